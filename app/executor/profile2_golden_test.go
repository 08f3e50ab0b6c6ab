//go:build vchain_profile2

package executor_test

// Profile 2 exists only in builds with -tags vchain_profile2 (the rolling binary upgrade
// test's "newer" vchaind); its vector shows the price change reaching every gas figure
// that stores state. `make test` runs the vectors with the tag too.
func init() {
	profileVectors[2] = profileVector{
		meteredV1: "1f495514c3697d4d8e8bf2af82994dc19ab12c9901fd80e3e2b91ac226501aca",
		meteredV2: "693561bd9de4459366af58982f2c5584892535b64afb4c0b677d1ab4b688b62a",
		results:   []string{"ok/32692", "ok/34653", "ok/80195", "ok/105209", "contract_error/106687", "ok/25828", "ok/26157", "contract_error/73931", "out_of_gas/30000", "contract_error/52272"},
		appHash:   "cd6b03785bbe464abe763ae7fcb070f6528bd317b085cd2a646c255e09b659dc",
	}
}
