package state

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	dbm "github.com/cosmos/cosmos-db"
)

// proofVectors is testdata/proof_vectors.json: proofs of a fixed state, for verifiers in
// other languages to test against (docs/proofs.md). Bytes are hex; a null value is an
// absence.
type proofVectors struct {
	Comment string        `json:"comment"`
	Height  int64         `json:"height"`
	AppHash string        `json:"app_hash"`
	Cases   []proofVector `json:"cases"`
}

type proofVector struct {
	Contract string        `json:"contract"`
	Key      string        `json:"key"`
	FullKey  string        `json:"full_key_hex"`
	KeyPath  string        `json:"key_path"`
	Value    *string       `json:"value_hex"`
	Ops      []proofOpJSON `json:"ops"`
}

type proofOpJSON struct {
	Type string `json:"type"`
	Key  string `json:"key_hex"`
	Data string `json:"data_hex"`
}

// TestProofVectors pins the proof format: a fixed state's proofs must be byte for byte
// those in testdata/proof_vectors.json, and verify. A change here breaks every client
// that verifies proofs: make it on purpose (VCHAIN_UPDATE_PROOF_VECTORS=1 rewrites the
// file) and say so.
func TestProofVectors(t *testing.T) {
	st, err := Open(dbm.NewMemDB())
	if err != nil {
		t.Fatal(err)
	}
	c := NewCache(st)
	c.Set(ContractKey("kv", []byte("a")), []byte("1"))
	c.Set(ContractKey("kv", []byte("c")), []byte("3"))
	c.Set(AccountKey(bytes.Repeat([]byte{0xab}, 20)), EncodeUint64(1))
	c.Set(KeyParams, []byte("params"))
	appHash := commit(t, st, 1, c)
	got := proofVectors{
		Comment: "vchain proofs of a fixed state (docs/proofs.md); checked by app/state TestProofVectors",
		Height:  1, AppHash: hex.EncodeToString(appHash),
	}
	for _, key := range []string{"a", "b", "z"} {
		full := ContractKey("kv", []byte(key))
		value, ops, err := st.Prove(1, full)
		if err != nil {
			t.Fatal(err)
		}
		if err := verify(ops, appHash, full, value); err != nil {
			t.Fatalf("%s: %v", key, err)
		}
		kp, _ := KeyPath(full)
		v := proofVector{Contract: "kv", Key: key, FullKey: hex.EncodeToString(full), KeyPath: kp}
		if value != nil {
			s := hex.EncodeToString(value)
			v.Value = &s
		}
		for _, op := range ops {
			v.Ops = append(v.Ops, proofOpJSON{Type: op.Type, Key: hex.EncodeToString(op.Key), Data: hex.EncodeToString(op.Data)})
		}
		got.Cases = append(got.Cases, v)
	}
	out, err := json.MarshalIndent(got, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	out = append(out, '\n')
	path := filepath.Join("testdata", "proof_vectors.json")
	if os.Getenv("VCHAIN_UPDATE_PROOF_VECTORS") != "" {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, out, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out, want) {
		t.Fatalf("the proofs of the fixed state changed (a break for every verifier); now:\n%s", out)
	}
}
