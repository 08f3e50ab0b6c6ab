//go:build vchain_profile2

package executor_test

// Profile 2 exists only in builds with -tags vchain_profile2 (the rolling binary upgrade
// test's "newer" vchaind); its vector shows the price change reaching every gas figure
// that stores state. `make test` runs the vectors with the tag too.
func init() {
	profileVectors[2] = profileVector{
		meteredV1: "83b6a1af0cebefc6157ba517ae18d3e06ffa71186d269cd3bb9d15a26e37bd57",
		meteredV2: "eec49f1dc5084ea608c50b917f081514498fa5d1c535c0f9c101fc96db075b0b",
		results:   []string{"ok/121071", "ok/124353", "ok/203556", "ok/298117", "contract_error/245071", "ok/89600", "ok/89276", "contract_error/98358", "out_of_gas/30000", "contract_error/62363"},
		appHash:   "cc3f18708efc9ed9a3cfc3567cd04dc93c7009c664b853ce151564bd270de60d",
	}
}
