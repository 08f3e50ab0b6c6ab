//go:build vchain_profile2

package executor_test

// Profile 2 exists only in builds with -tags vchain_profile2 (the rolling binary upgrade
// test's "newer" vchaind); its vector shows the price change reaching every gas figure
// that stores state. `make test` runs the vectors with the tag too.
func init() {
	profileVectors[2] = profileVector{
		meteredV1: "9c14ee98adbcffeacb02628b39fc2ff5dc8e608d360ac64c7a0d6cba4c9926b1",
		meteredV2: "64602704072b44df4e425bcc118e404601731c1f968b99706fdbf120f8967e3a",
		results:   []string{"ok/200000", "ok/200000", "ok/200000", "ok/275443", "contract_error/239176", "ok/200000", "ok/200000", "contract_error/200000", "out_of_gas/30000", "contract_error/200000"},
		appHash:   "5dccf4a5474caf14feeb10397c703c7460b5f5fba4d7f1830c33757385d14129",
	}
}
