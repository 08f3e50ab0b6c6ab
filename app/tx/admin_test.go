package tx_test

import (
	"bytes"
	"crypto/ed25519"
	"testing"

	"github.com/vchain/vchain/app/codes"
	"github.com/vchain/vchain/app/tx"
	txv1 "github.com/vchain/vchain/proto/vchain/tx/v1"
)

// TestMembershipMessageShape: the stateless checks of the membership and admin messages,
// which CheckTx and ProcessProposal apply (a proposal's action is checked as if sent
// directly).
func TestMembershipMessageShape(t *testing.T) {
	priv := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{9}, 32))
	addr := tx.AddressOf(priv.Public().(ed25519.PublicKey)).String()
	pub := make([]byte, 32)
	add := func(typ string, key []byte, power int64, op string) *txv1.TxBody {
		return &txv1.TxBody{Msg: &txv1.TxBody_AddValidator{AddValidator: &txv1.AddValidator{PubKeyType: typ, PubKey: key, Power: power, Operator: op}}}
	}
	propose := func(b *txv1.TxBody) *txv1.TxBody {
		return &txv1.TxBody{Msg: &txv1.TxBody_Propose{Propose: &txv1.Propose{Action: tx.BodyAction(b)}}}
	}
	setAdmins := func(th uint32, admins ...string) *txv1.TxBody {
		return &txv1.TxBody{Msg: &txv1.TxBody_SetAdmins{SetAdmins: &txv1.SetAdmins{Admins: admins, Threshold: th}}}
	}
	for _, tc := range []struct {
		name string
		body *txv1.TxBody
		want codes.Code
	}{
		{"add", add("ed25519", pub, 10, addr), codes.OK},
		{"add with a short key", add("ed25519", pub[:31], 10, addr), codes.InvalidMessage},
		{"add with power 0", add("ed25519", pub, 0, addr), codes.InvalidMessage},
		{"add without a key type", add("", pub, 10, addr), codes.InvalidMessage},
		{"add with a bad operator", add("ed25519", pub, 10, "xyz"), codes.InvalidMessage},
		{"update to a negative power", &txv1.TxBody{Msg: &txv1.TxBody_UpdateValidator{UpdateValidator: &txv1.UpdateValidator{Validator: addr, Power: -1}}}, codes.InvalidMessage},
		{"remove", &txv1.TxBody{Msg: &txv1.TxBody_UpdateValidator{UpdateValidator: &txv1.UpdateValidator{Validator: addr}}}, codes.OK},
		{"rotate to a bad operator", &txv1.TxBody{Msg: &txv1.TxBody_RotateOperator{RotateOperator: &txv1.RotateOperator{Validator: addr, Operator: ""}}}, codes.InvalidMessage},
		{"set admins", setAdmins(1, addr), codes.OK},
		{"set admins, threshold above the count", setAdmins(2, addr), codes.InvalidMessage},
		{"set admins, threshold 0", setAdmins(0, addr), codes.InvalidMessage},
		{"set admins, one twice", setAdmins(1, addr, addr), codes.InvalidMessage},
		{"set no admins", setAdmins(1), codes.InvalidMessage},
		{"propose an add", propose(add("ed25519", pub, 10, addr)), codes.OK},
		{"propose a malformed add", propose(add("ed25519", pub, -5, addr)), codes.InvalidMessage},
		{"propose nothing", &txv1.TxBody{Msg: &txv1.TxBody_Propose{Propose: &txv1.Propose{}}}, codes.InvalidMessage},
		{"approve id 0", &txv1.TxBody{Msg: &txv1.TxBody_Approve{Approve: &txv1.Approve{}}}, codes.InvalidMessage},
	} {
		tc.body.ChainId, tc.body.Nonce, tc.body.GasLimit = fuzzChain, 1, 1_000
		raw, err := tx.Sign(priv, tc.body)
		if err != nil {
			t.Fatal(err)
		}
		_, cerr := tx.Decode(raw, tx.Limits{ChainID: fuzzChain, MaxGasPerTx: 1_000_000})
		got := codes.OK
		if cerr != nil {
			got = cerr.Code
		}
		if got != tc.want {
			t.Errorf("%s: %v, want %s", tc.name, cerr, tc.want)
		}
	}
}
