package lightclient

import (
	"context"
	"strings"
	"testing"

	dbm "github.com/cosmos/cosmos-db"

	"github.com/vchain/vchain/app/state"
)

// TestVerifyState: VerifyState accepts a genuine value and a genuine absence, and refuses
// another value, a value offered with an absence proof, an absence claimed with a
// membership proof, and the right proof under another contract's name.
func TestVerifyState(t *testing.T) {
	st, err := state.Open(dbm.NewMemDB())
	if err != nil {
		t.Fatal(err)
	}
	c := state.NewCache(st)
	c.Set(state.ContractKey("kv", []byte("a")), []byte("1"))
	hash, err := st.Stage(1, c)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Commit(1, hash, c); err != nil {
		t.Fatal(err)
	}
	prove := func(key string) ([]byte, []state.ProofOp) {
		v, ops, err := st.Prove(1, state.ContractKey("kv", []byte(key)))
		if err != nil {
			t.Fatal(err)
		}
		return v, ops
	}
	v, present := prove("a")
	_, absent := prove("b")
	if ok, err := VerifyState(state.ToProto(present), hash, "kv", []byte("a"), v); err != nil || !ok {
		t.Fatalf("genuine value: %v %v", ok, err)
	}
	if ok, err := VerifyState(state.ToProto(absent), hash, "kv", []byte("b"), nil); err != nil || ok {
		t.Fatalf("genuine absence: %v %v", ok, err)
	}
	for name, err := range map[string]error{
		"another value":              second(VerifyState(state.ToProto(present), hash, "kv", []byte("a"), []byte("2"))),
		"a value, absence proof":     second(VerifyState(state.ToProto(absent), hash, "kv", []byte("b"), []byte("1"))),
		"absent, membership proof":   second(VerifyState(state.ToProto(present), hash, "kv", []byte("a"), nil)),
		"another contract's key":     second(VerifyState(state.ToProto(present), hash, "kv2", []byte("a"), v)),
		"another app hash":           second(VerifyState(state.ToProto(present), append([]byte{1}, hash[1:]...), "kv", []byte("a"), v)),
		"an absence for another key": second(VerifyState(state.ToProto(absent), hash, "kv", []byte("c"), nil)),
	} {
		if err == nil {
			t.Errorf("%s verified", name)
		}
	}
}

func second(_ bool, err error) error { return err }

// TestOpenRefusesBadTrust: half of the trust options, a negative height or a hash of the
// wrong size are refused before anything is dialled or written.
func TestOpenRefusesBadTrust(t *testing.T) {
	home := t.TempDir()
	for _, o := range []Options{
		{TrustHeight: 5},
		{TrustHash: make([]byte, 32)},
		{TrustHeight: -1, TrustHash: make([]byte, 32)},
		{TrustHeight: 5, TrustHash: make([]byte, 20)},
	} {
		o.Home, o.Node = home, "tcp://127.0.0.1:1"
		_, err := Open(context.Background(), o)
		if err == nil || !strings.Contains(err.Error(), "trust") {
			t.Errorf("%+v: %v", o, err)
		}
	}
}
