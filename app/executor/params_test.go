package executor

import (
	"bytes"
	"encoding/hex"
	"reflect"
	"testing"

	"github.com/vchain/vchain/app/genesis"
)

// TestParamsEncoding pins the stored form of the chain parameters: it is hashed into the
// genesis app hash, so any change to it is a consensus change and must show here. The
// install threshold is two varint integers (field 4: 0x22 0x04, numerator 0x08 0x02,
// denominator 0x10 0x03), never a string.
func TestParamsEncoding(t *testing.T) {
	p := &Params{ChainID: "vchain-1", InitialHeight: 100, App: genesis.AppState{
		Admins:           []string{"0000000000000000000000000000000000000001"},
		InstallThreshold: genesis.Fraction{Num: 2, Den: 3},
		Runtime:          genesis.RuntimeRef{Version: 1, CodeSHA256: "f3ebb22c28da6116dfcc013814291e974db79568bb8b5d3ee5aecd5cb7131048"},
		Validators: []genesis.ValidatorOperator{
			{Validator: "00000000000000000000000000000000000000AA", Operator: "0000000000000000000000000000000000000002", Moniker: "node0"},
		},
		MaxGasPerTx: genesis.DefaultMaxGasPerTx,
	}, MaxBlockGas: genesis.DefaultMaxGasPerBlock}
	// Checked by hand against the protobuf wire format: chain_id 0x0a, initial_height 0x10
	// 0x64, admins 0x1a, install_threshold 0x22, runtime 0x2a, validators 0x32,
	// max_gas_per_tx 0x38 0x80e1eb17 (50,000,000), max_block_gas 0x40 0x80c8afa025
	// (10,000,000,000).
	const golden = "0a0876636861696e2d3110641a28303030303030303030303030303030303030303030303030303030303030303030303030" +
		"303030312204080210032a2408011220f3ebb22c28da6116dfcc013814291e974db79568bb8b5d3ee5aecd5cb7131048325b" +
		"0a28303030303030303030303030303030303030303030303030303030303030303030303030303041411228303030303030" +
		"303030303030303030303030303030303030303030303030303030303030303030321a056e6f6465303880e1eb17" +
		"4080c8afa025"
	raw, err := encodeParams(p)
	if err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(raw); got != golden {
		t.Fatalf("stored params changed:\n got %s\nwant %s", got, golden)
	}
	if !bytes.Contains(raw, []byte{0x22, 0x04, 0x08, 0x02, 0x10, 0x03}) {
		t.Fatal("the install threshold is not numerator 2, denominator 3 as integers")
	}
	back, err := decodeParams(raw)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, p) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", back, p)
	}
	for _, bad := range [][]byte{{0xff}, {0x0a, 0x01, 'x'}} {
		if _, err := decodeParams(bad); err == nil {
			t.Errorf("decodeParams(%x) accepted", bad)
		}
	}
}
