package executor_test

import (
	"crypto/ed25519"
	"testing"

	"github.com/vchain/vchain/app/codes"
	"github.com/vchain/vchain/app/executor"
	"github.com/vchain/vchain/app/state"
	"github.com/vchain/vchain/app/tx"
	"github.com/vchain/vchain/internal/testwasm"
	txv1 "github.com/vchain/vchain/proto/vchain/tx/v1"
)

// refusedBoth checks that CheckTx and a block both refuse raw with want. (A refused
// lifecycle message is included and consumes its nonce; a rejection does not.)
func refusedBoth(t *testing.T, n *node, name string, raw []byte, want codes.Code) {
	t.Helper()
	if _, cerr := n.exec.CheckTx(raw); cerr == nil || cerr.Code != want {
		t.Errorf("%s: CheckTx %v, want %s", name, cerr, want)
	}
	if r := n.block(raw).TxResults[0]; r.Code != want {
		t.Errorf("%s: in a block %s, want %s", name, r.Code, want)
	}
}

// TestAttestationAuthority extends TestAuthority: an attestation signed by a key that
// operates no validator, or naming a validator outside the set, is refused in a block as
// in CheckTx, and records nothing.
func TestAttestationAuthority(t *testing.T) {
	c := newChain(t)
	v2 := testwasm.Module(t, "v2")
	stranger := key(41)
	refusedBoth(t, c.node, "attest by a stranger for validator 0", c.tx(stranger, attest(0, map[uint64][]byte{2: v2})), codes.Unauthorized)
	refusedBoth(t, c.node, "attest by operator 0 for validator 3", c.tx(operators[0], attest(3, map[uint64][]byte{2: v2})), codes.Unauthorized)
	refusedBoth(t, c.node, "attest for a non-validator", c.tx(operators[0], func(b *txv1.TxBody) {
		b.Msg = &txv1.TxBody_AttestInstall{AttestInstall: &txv1.AttestInstall{Validator: "ABABABABABABABABABABABABABABABABABABABAB"}}
	}), codes.UnknownValidator)
	refusedBoth(t, c.node, "attest by the admin for validator 1", c.tx(admin, attest(1, map[uint64][]byte{2: v2})), codes.Unauthorized)
	// None of them counts towards readiness.
	wantCodes(t, c.block(c.tx(admin, register(2, v2))), codes.OK)
	wantCodes(t, c.block(c.tx(admin, schedule(2, nextBlock))), codes.NotReady)
}

// TestReplayRefused: a committed transaction sent again, and the same transaction sent
// to a chain with another id, are refused by CheckTx and by a block, and change nothing.
func TestReplayRefused(t *testing.T) {
	n := newNode(t, nil, "", "v1")
	n.initChain("v1")
	first := signed(t, admin, 1, "kv", "set", `{"key":"a","value":"1"}`)
	reg := signed(t, admin, 2, "x", "x", "", register(2, testwasm.Module(t, "v2")))
	wantCodes(t, n.block(first, reg), codes.OK, codes.OK)
	wantCodes(t, n.block(signed(t, admin, 3, "kv", "set", `{"key":"a","value":"2"}`)), codes.OK)

	refusedBoth(t, n, "replayed call", first, codes.NonceReplayed)
	refusedBoth(t, n, "replayed admin message", reg, codes.NonceReplayed)
	if v, _ := n.store.Get(state.ContractKey("kv", []byte("a"))); string(v) != "2" {
		t.Fatalf("a replay changed state: a=%q", v)
	}
	// The same transaction twice in one block: the second is a replay.
	next := signed(t, admin, 4, "kv", "set", `{"key":"b","value":"1"}`)
	wantCodes(t, n.block(next, next), codes.OK, codes.NonceReplayed)

	// Another chain, same validators and admin: the bytes signed for test-chain are refused.
	other := newNode(t, nil, "", "v1")
	if _, err := other.exec.InitChain("other-chain", 1, appState(t, testwasm.Module(t, "v1")), genesisValidators(), executor.NoMaxBlockGas); err != nil {
		t.Fatal(err)
	}
	refusedBoth(t, other, "replayed on another chain", first, codes.WrongChain)
	if c, _, _ := other.exec.Nonces(tx.AddressOf(admin.Public().(ed25519.PublicKey))); c != 0 {
		t.Fatalf("a foreign-chain transaction moved the nonce to %d", c)
	}
}

// TestSignatureOverOtherBytes: a signature is valid only over the domain-separated bytes
// of the very body it travels with.
func TestSignatureOverOtherBytes(t *testing.T) {
	n := newNode(t, nil, "", "v1")
	n.initChain("v1")
	body := func(value string) []byte {
		b := &txv1.TxBody{ChainId: chainID, Nonce: 1, GasLimit: 1_000_000,
			Msg: &txv1.TxBody_Call{Call: &txv1.Call{Contract: "kv", Method: "set", Args: []byte(`{"key":"a","value":"` + value + `"}`)}}}
		raw, err := b.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		return raw
	}
	pub := admin.Public().(ed25519.PublicKey)
	wrap := func(b, sig []byte) []byte { return envelope(t, &txv1.Tx{Body: b, PubKey: pub, Signature: sig}) }
	mine, other := body("1"), body("2")
	for _, tc := range []struct {
		name string
		raw  []byte
	}{
		{"signature of another body", wrap(mine, ed25519.Sign(admin, tx.SignBytes(other)))},
		{"body without the domain", wrap(mine, ed25519.Sign(admin, mine))},
		{"another domain", wrap(mine, ed25519.Sign(admin, append([]byte("vchain/tx/v0\n"), mine...)))},
		{"domain without its newline", wrap(mine, ed25519.Sign(admin, append([]byte("vchain/tx/v1"), mine...)))},
		{"another key's signature", wrap(mine, ed25519.Sign(key(9), tx.SignBytes(mine)))},
	} {
		refusedBoth(t, n, tc.name, tc.raw, codes.BadSignature)
	}
	wantCodes(t, n.block(wrap(mine, ed25519.Sign(admin, tx.SignBytes(mine)))), codes.OK)
}
