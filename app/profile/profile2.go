//go:build vchain_profile2

package profile

// Profile 2 exists only in binaries built with -tags vchain_profile2: the rolling binary
// upgrade test (testnet/rollover_test.go) builds such a "newer" vchaind. It is profile 1
// with a visibly different price, so a switch to it shows in every kv.set's gas.
func init() {
	p := profile1() // not registry[1]: this file's init may run before profiles.go's
	p.ID = 2
	p.Host.StateSetBase = 2_000
	register(p)
}
