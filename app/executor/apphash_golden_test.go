package executor_test

import (
	"encoding/hex"
	"encoding/json"
	"testing"

	dbm "github.com/cosmos/cosmos-db"

	"github.com/vchain/vchain/app/executor"
	"github.com/vchain/vchain/app/genesis"
	"github.com/vchain/vchain/app/state"
)

// TestGenesisAppHashGolden pins the genesis app hash of a fixed genesis: every record
// InitChain writes (parameters, effective runtime, release, validators) is hashed into it,
// so a change to any of their encodings is a consensus change and must be made here on
// purpose. The runtime hash is fixed, not a built module's, so a contract change does not
// move it. block.max_gas is stored with the parameters when it bounds anything; CometBFT's
// -1 stores nothing. The hashes are IAVL state roots (app/state); they changed when the
// app hash became a state commitment instead of a hash chain of writes, and again when the
// parameters gained migration_gas_limit (issue 14).
func TestGenesisAppHashGolden(t *testing.T) {
	a := genesis.AppState{
		Admins:  []string{addr(admin)},
		Runtime: genesis.RuntimeRef{Version: 1, CodeSHA256: "f3ebb22c28da6116dfcc013814291e974db79568bb8b5d3ee5aecd5cb7131048"},
	}
	for i, op := range operators {
		a.Validators = append(a.Validators, genesis.ValidatorOperator{Validator: validatorAddr(i), Operator: addr(op), Moniker: "node"})
	}
	raw, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		initialHeight int64
		maxBlockGas   int64
		want          string
	}{
		{1, executor.NoMaxBlockGas, "4a3f3fa3f2b966710ce4ec54b99680b475362ddf067d6291b62852db2f21802a"},
		{100, executor.NoMaxBlockGas, "8e2aa04d829acd65c04da99b9bfd756d134924381762a3cc51c146c650ebdf1d"},
		{1, genesis.DefaultMaxGasPerBlock, "790c3106d072eae1c731972ee651e06b3ff976b2a254570202f23e419554787b"},
	} {
		st, err := state.Open(dbm.NewMemDB())
		if err != nil {
			t.Fatal(err)
		}
		ex, err := executor.New(st, nil, nopLog{})
		if err != nil {
			t.Fatal(err)
		}
		h, err := ex.InitChain(chainID, tc.initialHeight, raw, genesisValidators(), tc.maxBlockGas)
		if err != nil {
			t.Fatal(err)
		}
		if got := hex.EncodeToString(h); got != tc.want {
			t.Errorf("initial height %d, block.max_gas %d: genesis app hash %s, want %s", tc.initialHeight, tc.maxBlockGas, got, tc.want)
		}
	}
}
