package snapshot

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"testing"
	"time"

	dbm "github.com/cosmos/cosmos-db"

	"github.com/vchain/vchain/app/state"
	"github.com/vchain/vchain/app/upgrade"
	"github.com/vchain/vchain/internal/testwasm"
	statev1 "github.com/vchain/vchain/proto/vchain/state/v1"
)

// BenchmarkSnapshot takes and restores the snapshot of a store of 100,000 contract keys
// (64-byte values) on goleveldb, at the format's chunk size, and reports its size, chunks
// and the take and restore times:
//
//	go test ./app/snapshot -run NONE -bench Snapshot -benchtime 1x
func BenchmarkSnapshot(b *testing.B) {
	const keys, perBlock = 100_000, 10_000
	db, err := dbm.NewGoLevelDB("src", b.TempDir(), nil)
	if err != nil {
		b.Fatal(err)
	}
	st, err := state.Open(db)
	if err != nil {
		b.Fatal(err)
	}
	v1 := testwasm.Module(b, "v1")
	s1 := sha256.Sum256(v1)
	for h := int64(1); h <= keys/perBlock; h++ {
		c := state.NewCache(st)
		if h == 1 {
			if err := upgrade.NewKeeper(c).SetEffective(&statev1.EffectiveRuntime{Version: 1, CodeSha256: s1[:], SinceHeight: 1, Profile: 1}); err != nil {
				b.Fatal(err)
			}
		}
		for i := range perBlock {
			c.Set(state.ContractKey("kv", fmt.Appendf(nil, "key-%d-%d", h, i)), bytes.Repeat([]byte{byte(i)}, 64))
		}
		hash, err := st.Stage(h, c)
		if err != nil {
			b.Fatal(err)
		}
		if err := st.Commit(h, hash, c); err != nil {
			b.Fatal(err)
		}
	}
	rm := manager(b, map[uint64][]byte{1: v1})
	for b.Loop() {
		d, err := OpenDisk(b.TempDir())
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		info, err := Take(st, st.Height(), rm, d)
		if err != nil {
			b.Fatal(err)
		}
		took := time.Since(start)
		md, _ := info.Metadata()
		ddb, err := dbm.NewGoLevelDB("dst", b.TempDir(), nil)
		if err != nil {
			b.Fatal(err)
		}
		dst, err := state.Open(ddb)
		if err != nil {
			b.Fatal(err)
		}
		r := NewRestorer(dst, manager(b, nil), nopLog{})
		start = time.Now()
		if res, err := r.Offer(Offer{Height: info.Height, Format: Format, Chunks: info.Chunks, Hash: Hash(md), Metadata: md, AppHash: st.AppHash()}, true); res != OfferAccept {
			b.Fatal(res, err)
		}
		for i := range info.Chunks {
			c, err := d.Chunk(info.Height, i)
			if err != nil {
				b.Fatal(err)
			}
			if a := r.Apply(context.Background(), i, c, "p"); a.Result != ApplyAccept {
				b.Fatal(a.Err)
			}
		}
		restored := time.Since(start)
		if !bytes.Equal(dst.AppHash(), st.AppHash()) {
			b.Fatal("restored app hash differs")
		}
		b.ReportMetric(float64(info.Size), "bytes")
		b.ReportMetric(float64(info.Chunks), "chunks")
		b.ReportMetric(float64(took.Milliseconds()), "take-ms")
		b.ReportMetric(float64(restored.Milliseconds()), "restore-ms")
		dst.Close()
	}
}
