package state

import (
	"fmt"
	"strings"
	"testing"

	"github.com/cometbft/cometbft/crypto/merkle"
	cmtcrypto "github.com/cometbft/cometbft/proto/tendermint/crypto"
	dbm "github.com/cosmos/cosmos-db"
)

// provenStore commits two heights with keys in every store and returns the store and
// the app hash of each height.
func provenStore(t *testing.T) (*Store, map[int64][]byte) {
	t.Helper()
	st, err := Open(dbm.NewMemDB())
	if err != nil {
		t.Fatal(err)
	}
	hashes := map[int64][]byte{}
	for h := int64(1); h <= 2; h++ {
		c := NewCache(st)
		for i := 0; i < 40; i++ {
			c.Set(ck(fmt.Sprintf("k%02d", i*2)), fmt.Appendf(nil, "h%d-v%d", h, i))
		}
		c.Set(AccountKey([]byte("alice")), EncodeUint64(uint64(h)))
		c.Set(KeyParams, []byte("params"))
		hashes[h] = commit(t, st, h, c)
	}
	return st, hashes
}

// verify checks ops for key holding value (absence when value is nil) against appHash
// with CometBFT's proof runtime, as a client would.
func verify(ops []ProofOp, appHash, key, value []byte) error {
	kp, err := KeyPath(key)
	if err != nil {
		return err
	}
	if value == nil {
		return ProofRuntime().VerifyAbsence(ToProto(ops), appHash, kp)
	}
	return ProofRuntime().VerifyValue(ToProto(ops), appHash, kp, value)
}

// TestProofs: a value's proof and an absent key's proof verify against the committed app
// hash, in every store, at the latest height and a kept older one; a changed value, a
// changed byte anywhere in either op, a proof under another app hash, another key or
// another store's path, and an absence proof offered for a present key are all refused.
func TestProofs(t *testing.T) {
	st, hashes := provenStore(t)
	for _, h := range []int64{2, 1} {
		for _, key := range [][]byte{ck("k10"), AccountKey([]byte("alice")), KeyParams, ck("k11"), ck("\x00"), ck("zzz"), AccountKey([]byte("bob"))} {
			t.Run(fmt.Sprintf("h%d/%q", h, key), func(t *testing.T) {
				value, ops, err := st.Prove(h, key)
				if err != nil {
					t.Fatal(err)
				}
				if len(ops) != 2 || ops[0].Type != ProofOpIAVL || ops[1].Type != merkle.ProofOpValue {
					t.Fatalf("ops %+v", ops)
				}
				if err := verify(ops, hashes[h], key, value); err != nil {
					t.Fatalf("a genuine proof (value %q) is refused: %v", value, err)
				}
				if value != nil {
					tampered := append(append([]byte(nil), value...), 'x')
					if verify(ops, hashes[h], key, tampered) == nil {
						t.Fatal("a changed value verified")
					}
					if verify(ops, hashes[h], key, nil) == nil {
						t.Fatal("a membership proof verified as an absence")
					}
				} else if verify(ops, hashes[h], key, []byte("invented")) == nil {
					t.Fatal("an absence proof verified a value")
				}
				other := hashes[3-h]
				if verify(ops, other, key, value) == nil {
					t.Fatal("the proof verified against another height's app hash")
				}
				if verify(ops, hashes[h], append(append([]byte(nil), key...), '!'), value) == nil {
					t.Fatal("the proof verified for another key")
				}
				for i := range ops {
					for _, at := range []int{0, len(ops[i].Data) / 2, len(ops[i].Data) - 1} {
						bad := append([]ProofOp(nil), ops...)
						bad[i].Data = append([]byte(nil), ops[i].Data...)
						bad[i].Data[at] ^= 0x01
						if verify(bad, hashes[h], key, value) == nil {
							t.Fatalf("op %d (%s) with byte %d flipped verified", i, ops[i].Type, at)
						}
					}
				}
			})
		}
	}
	// The path must name the key's own store: the same proof under "/runtime/x:..." fails.
	value, ops, _ := st.Prove(2, ck("k10"))
	kp := merkle.KeyPath{}.AppendKey([]byte(StoreRuntime), merkle.KeyEncodingURL).AppendKey(ck("k10"), merkle.KeyEncodingHex).String()
	if ProofRuntime().VerifyValue(ToProto(ops), hashes[2], kp, value) == nil {
		t.Fatal("a contracts proof verified under the runtime store's path")
	}
	// Only the two vchain op types decode.
	if _, err := ProofRuntime().DecodeProof(&cmtcrypto.ProofOps{Ops: []cmtcrypto.ProofOp{{Type: "ics23:smt"}}}); err == nil {
		t.Fatal("an unknown op type decoded")
	}
}

// TestProveRefuses: heights outside the committed ones and keys outside every store get
// a clear error, not a proof.
func TestProveRefuses(t *testing.T) {
	st, _ := provenStore(t)
	for _, c := range []struct {
		height int64
		key    []byte
	}{{0, ck("k10")}, {3, ck("k10")}, {-1, ck("k10")}, {2, []byte("stray/k")}} {
		if _, _, err := st.Prove(c.height, c.key); err == nil {
			t.Errorf("Prove(%d, %q) gave a proof", c.height, c.key)
		}
	}
	// An empty value has no ICS23 proof (the leaf op refuses it): an error, not a proof
	// that no verifier accepts.
	c := NewCache(st)
	c.Set(ck("empty"), []byte{})
	commit(t, st, 3, c)
	if _, _, err := st.Prove(3, ck("empty")); err == nil || !strings.Contains(err.Error(), "empty value") {
		t.Errorf("Prove of an empty value: %v", err)
	}
}

// TestAbsenceInUntouchedStore: on a chain whose first blocks wrote only runtime records,
// a key of the still untouched accounts and contracts stores is proven absent (their
// sentinels keep them non-empty; sentinel.go), and the sentinels can be neither written
// nor deleted, nor seen by Iterate.
func TestAbsenceInUntouchedStore(t *testing.T) {
	st, err := Open(dbm.NewMemDB())
	if err != nil {
		t.Fatal(err)
	}
	c := NewCache(st)
	c.Set(KeyParams, []byte("params"))
	hash := commit(t, st, 1, c)
	hash2 := commit(t, st, 2, NewCache(st))
	for h, appHash := range map[int64][]byte{1: hash, 2: hash2} {
		for _, key := range [][]byte{ck("k"), AccountKey([]byte("alice")), ContractKey("kv", []byte("a")), KeyEffectiveRuntime} {
			value, ops, err := st.Prove(h, key)
			if err != nil {
				t.Fatalf("height %d, key %q: %v", h, key, err)
			}
			if value != nil {
				t.Fatalf("height %d, key %q: value %q", h, key, value)
			}
			if err := verify(ops, appHash, key, nil); err != nil {
				t.Fatalf("height %d, key %q: a genuine absence proof is refused: %v", h, key, err)
			}
			if verify(ops, appHash, key, []byte("x")) == nil {
				t.Fatalf("height %d, key %q: an absence proof verified a value", h, key)
			}
		}
	}
	for _, s := range sentinels {
		for _, write := range []func(c *Cache){
			func(c *Cache) { c.Set(s.key, []byte("mine")) },
			func(c *Cache) { c.Delete(s.key) },
		} {
			c := NewCache(st)
			write(c)
			if _, err := st.Stage(3, c); err == nil {
				t.Fatalf("a write to the sentinel %q was staged", s.key)
			}
		}
	}
	n := 0
	for _, prefix := range []string{prefixAccount, prefixContract, prefixRuntime} {
		if err := st.Iterate([]byte(prefix), func(k, _ []byte) bool { n++; return true }); err != nil {
			t.Fatal(err)
		}
	}
	if n != 0 {
		t.Fatalf("Iterate saw %d records in stores holding only sentinels", n)
	}
}
