//go:build vchain_profile2

package executor_test

// Profile 2 exists only in builds with -tags vchain_profile2 (the rolling binary upgrade
// test's "newer" vchaind); its vector shows the price change reaching every gas figure
// that stores state. `make test` runs the vectors with the tag too.
func init() {
	profileVectors[2] = profileVector{
		meteredV1: "1f495514c3697d4d8e8bf2af82994dc19ab12c9901fd80e3e2b91ac226501aca",
		meteredV2: "b3bb942ddf87da76bb25d87af5ea4d00208980b47bbbcbde7dbb9b76e60654d9",
		results:   []string{"ok/32692", "ok/34653", "ok/80195", "ok/105209", "contract_error/106687", "ok/25828", "ok/26157", "contract_error/73931", "out_of_gas/30000", "contract_error/52272"},
		appHash:   "f15f3fcd3e28f5fedcbfd3c2116269a1bb90b7e66c160e037a35a98b3b722cc2",
	}
}
