//go:build vchain_profile2

package executor_test

// Profile 2 exists only in builds with -tags vchain_profile2 (the rolling binary upgrade
// test's "newer" vchaind); its vector shows the price change reaching every gas figure
// that stores state. `make test` runs the vectors with the tag too.
func init() {
	profileVectors[2] = profileVector{
		meteredV1: "6ea9190d7a444c0b3ab04e8f07058c1566e64a7213fa2df303f431c13ae86dfa",
		meteredV2: "4400f4a4edc00be49fea7094c0009ab458cf3f19f87b41ad6ea6bf1964f79b51",
		results:   []string{"ok/32684", "ok/34645", "ok/102446", "ok/140256", "contract_error/119654", "ok/25820", "ok/26149", "contract_error/74111", "out_of_gas/30000", "contract_error/52525"},
		appHash:   "f6fec91666304ea2fea996f5e506375fba144075c9332523c21381e7a54075e2",
	}
}
