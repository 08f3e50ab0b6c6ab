//go:build vchain_profile2

package executor_test

// Profile 2 exists only in builds with -tags vchain_profile2 (the rolling binary upgrade
// test's "newer" vchaind); its vector shows the price change reaching every gas figure
// that stores state. `make test` runs the vectors with the tag too.
func init() {
	profileVectors[2] = profileVector{
		meteredV1: "28f7b7a5f02542ae9c6af5faccdf5803d4b70c825a5ffad34fa2af99d1a18d62",
		meteredV2: "29f4ecf302124c9216a80bcb2f41265a7f5e17883633ad5ddf81423f94c33e8a",
		results:   []string{"ok/121071", "ok/124353", "ok/203556", "ok/298117", "contract_error/245071", "ok/89600", "ok/89276", "contract_error/98358", "out_of_gas/30000", "contract_error/62363"},
		appHash:   "0bf2f4055d7db814b9f2eac7aee6188630a3d72c2abb3e39c389a524a024f5dc",
	}
}
