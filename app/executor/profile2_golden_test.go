//go:build vchain_profile2

package executor_test

// Profile 2 exists only in builds with -tags vchain_profile2 (the rolling binary upgrade
// test's "newer" vchaind); its vector shows the price change reaching every gas figure
// that stores state. `make test` runs the vectors with the tag too.
func init() {
	profileVectors[2] = profileVector{
		meteredV1: "34b77c25f8ce4b34acee27f3a941c7ce23b78644ce817e9f50b266adca89c6a5",
		meteredV2: "d2061b709f53f3fd16822842d837648c8f7748c2066ad32cafa18a2517931107",
		results:   []string{"ok/121071", "ok/124353", "ok/203556", "ok/298117", "contract_error/245071", "ok/89600", "ok/89276", "contract_error/98358", "out_of_gas/30000", "contract_error/62363"},
		appHash:   "0bf2f4055d7db814b9f2eac7aee6188630a3d72c2abb3e39c389a524a024f5dc",
	}
}
