//go:build vchain_profile2

package executor_test

// Profile 2 exists only in builds with -tags vchain_profile2 (the rolling binary upgrade
// test's "newer" vchaind); its vector shows the price change reaching every gas figure
// that stores state. `make test` runs the vectors with the tag too.
func init() {
	profileVectors[2] = profileVector{
		meteredV1: "cd2398b1f1ac25c9dbaaaa779557e1f6c5e768ea22365d7267e0b47ba462ee80",
		meteredV2: "20561d3c819858225830cef553f9881c2f1347fed3ce4bf51d256fb86b4fc611",
		results:   []string{"ok/466352", "ok/119137", "ok/503329", "ok/596097", "contract_error/225463", "ok/378683", "ok/74956", "contract_error/95527", "out_of_gas/30000", "contract_error/101332"},
		appHash:   "ba6ce435f68e4553277002da6a1f66ce2189db1152f09cbbbcf0c1d69b205dfe",
	}
}
