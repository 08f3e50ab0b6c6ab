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
// app hash became a state commitment instead of a hash chain of writes.
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
		{1, executor.NoMaxBlockGas, "078850e18d598537bf578a86bd5f8bf8036c0a53299179260aef907753bbc2ed"},
		{100, executor.NoMaxBlockGas, "c4d9a15ddccf31586c191d66294f973d76f41f4a64b42fb905df94982e796553"},
		{1, genesis.DefaultMaxGasPerBlock, "1bef3c3e75c97ee39347f3da50821733ee4832660c512772831832298b60ea36"},
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
