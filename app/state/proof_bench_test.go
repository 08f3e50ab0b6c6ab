package state

import (
	"fmt"
	"testing"

	dbm "github.com/cosmos/cosmos-db"
)

// BenchmarkProof measures what a proven query costs: the proof's size (proof-bytes, the
// data of both ops, as a client receives it) and the time to verify it as a client does
// (decode both ops, ICS23 under IavlSpec, the store's simple Merkle proof, the app hash
// comparison), for a present key and an absent one, in a contracts store of 1,000 and of
// 100,000 keys (the proof grows with the tree's depth); "prove" is the node's side.
func BenchmarkProof(b *testing.B) {
	for _, size := range []struct {
		name   string
		rounds int
	}{{"1k", 1}, {"100k", 100}} {
		st, err := Open(dbm.NewMemDB())
		if err != nil {
			b.Fatal(err)
		}
		var appHash []byte
		for r := 0; r < size.rounds; r++ {
			c := NewCache(st)
			fillBench(c, r, size.rounds)
			appHash = commit(b, st, st.Height()+1, c)
		}
		h := st.Height()
		n := size.rounds * benchWrites
		for _, kind := range []struct {
			name string
			key  []byte
		}{
			{"membership", ContractKey("kv", fmt.Appendf(nil, "key-%08d", n/2))},
			{"absence", ContractKey("kv", fmt.Appendf(nil, "key-%08d-absent", n/2))},
		} {
			value, ops, err := st.Prove(h, kind.key)
			if err != nil {
				b.Fatal(err)
			}
			if (value == nil) != (kind.name == "absence") {
				b.Fatalf("%s: value %q", kind.name, value)
			}
			bytes := 0
			for _, op := range ops {
				bytes += len(op.Data)
			}
			b.Run(size.name+"/"+kind.name+"/verify", func(b *testing.B) {
				proto := ToProto(ops)
				kp, err := KeyPath(kind.key)
				if err != nil {
					b.Fatal(err)
				}
				prt := ProofRuntime()
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					if value == nil {
						err = prt.VerifyAbsence(proto, appHash, kp)
					} else {
						err = prt.VerifyValue(proto, appHash, kp, value)
					}
					if err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(bytes), "proof-bytes")
			})
			b.Run(size.name+"/"+kind.name+"/prove", func(b *testing.B) {
				b.ReportAllocs()
				for i := 0; i < b.N; i++ {
					if _, _, err := st.Prove(h, kind.key); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(bytes), "proof-bytes")
			})
		}
	}
}
