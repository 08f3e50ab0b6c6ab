//go:build vchain_profile2

package executor_test

// Profile 2 exists only in builds with -tags vchain_profile2 (the rolling binary upgrade
// test's "newer" vchaind); its vector shows the price change reaching every gas figure
// that stores state. `make test` runs the vectors with the tag too.
func init() {
	profileVectors[2] = profileVector{
		meteredV1: "565b229e54f44ebed078c5b32741fa7b478d5c5be18402fc7e30427d05035065",
		meteredV2: "ab44427874edaf988abcdd4e1315e8778f0dff4ed5014d4beeb2abcfb97bda49",
		results:   []string{"ok/466352", "ok/119137", "ok/503329", "ok/596097", "contract_error/225463", "ok/378683", "ok/74956", "contract_error/95527", "out_of_gas/30000", "contract_error/101332"},
		appHash:   "ba6ce435f68e4553277002da6a1f66ce2189db1152f09cbbbcf0c1d69b205dfe",
	}
}
