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
// -1 stores nothing, so those hashes are the ones from before it was stored.
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
		{1, executor.NoMaxBlockGas, "0910b14765d750f7c01a42b8fd64ff4589271895520a81c280913701e43ecfcc"},
		{100, executor.NoMaxBlockGas, "5ae1849d90194a4e966b0c345933660a7336fff0d9c8bc1946ddc0fcc51e9628"},
		{1, genesis.DefaultMaxGasPerBlock, "2fa46ef365cc91ffd29c628316b6f950b9e4f993040133141a32566a9c5c2a59"},
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
