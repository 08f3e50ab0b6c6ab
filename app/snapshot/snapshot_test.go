package snapshot

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	dbm "github.com/cosmos/cosmos-db"

	"github.com/vchain/vchain/app/runtime"
	"github.com/vchain/vchain/app/state"
	"github.com/vchain/vchain/app/upgrade"
	"github.com/vchain/vchain/internal/testwasm"
	statev1 "github.com/vchain/vchain/proto/vchain/state/v1"
)

// testChunk is the chunk size of these tests: small, so a snapshot spans many chunks and
// its modules are cut across chunk boundaries.
const testChunk = 64 << 10

type nopLog struct{}

func (nopLog) Info(string, ...any)  {}
func (nopLog) Error(string, ...any) {}

func manager(t testing.TB, wasm map[uint64][]byte) *runtime.Manager {
	t.Helper()
	ctx := context.Background()
	rm, err := runtime.NewManager(ctx, t.TempDir(), runtime.WithCacheDir(testwasm.CacheDir()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rm.Close(ctx) })
	for v, b := range wasm {
		if _, err := rm.Install(ctx, v, b); err != nil {
			t.Fatal(err)
		}
	}
	return rm
}

func commit(t *testing.T, st *state.Store, h int64, c *state.Cache) []byte {
	t.Helper()
	hash, err := st.Stage(h, c)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Commit(h, hash, c); err != nil {
		t.Fatal(err)
	}
	return hash
}

// chain builds a store at height 6 holding contract state, nonces and the runtime records
// of a chain running v1 with a switch to v2 pending at height 9, as the app writes them.
func chain(t *testing.T, db dbm.DB, opts ...state.Option) *state.Store {
	t.Helper()
	v1, v2 := testwasm.Module(t, "v1"), testwasm.Module(t, "v2")
	s1, s2 := sha256.Sum256(v1), sha256.Sum256(v2)
	st, err := state.Open(db, opts...)
	if err != nil {
		t.Fatal(err)
	}
	for h := int64(1); h <= 6; h++ {
		c := state.NewCache(st)
		k := upgrade.NewKeeper(c)
		switch h {
		case 1:
			must(t, k.SetEffective(&statev1.EffectiveRuntime{Version: 1, CodeSha256: s1[:], SinceHeight: 1, Profile: 1}))
			must(t, k.SetRelease(&statev1.Release{Version: 1, CodeSha256: s1[:], RegisteredHeight: 1, Profile: 1}))
		case 3:
			must(t, k.SetRelease(&statev1.Release{Version: 2, CodeSha256: s2[:], RegisteredHeight: 3, Profile: 1}))
		case 5:
			must(t, k.SetPending(&statev1.PendingSwitch{Version: 2, CodeSha256: s2[:], StartHeight: 9, ScheduledHeight: 5, Profile: 1}))
		}
		for i := range 300 {
			c.Set(state.ContractKey("kv", fmt.Appendf(nil, "key-%d-%d", h, i)), bytes.Repeat([]byte{byte(i)}, 40))
		}
		c.Set(state.ContractKey("kv", []byte("counter")), fmt.Appendf(nil, "%d", h))
		c.Set(state.ContractKey("kv", []byte("empty")), []byte{})
		if h == 4 {
			c.Delete(state.ContractKey("kv", []byte("key-1-7")))
		}
		c.Set(state.AccountKey(bytes.Repeat([]byte{byte(h)}, 20)), state.EncodeUint64(uint64(h)))
		commit(t, st, h, c)
	}
	return st
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func modules(t *testing.T) map[uint64][]byte {
	return map[uint64][]byte{1: testwasm.Module(t, "v1"), 2: testwasm.Module(t, "v2")}
}

// snap takes the snapshot of st at h and returns it as offered plus its chunks.
func snap(t *testing.T, st *state.Store, h int64, rm *runtime.Manager) (Offer, [][]byte) {
	t.Helper()
	d, err := OpenDisk(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	info, err := take(st, h, rm, d, testChunk)
	if err != nil {
		t.Fatal(err)
	}
	var chunks [][]byte
	for i := range info.Chunks {
		b, err := d.Chunk(h, i)
		if err != nil {
			t.Fatal(err)
		}
		chunks = append(chunks, b)
	}
	md, err := info.Metadata()
	if err != nil {
		t.Fatal(err)
	}
	return Offer{Height: h, Format: info.Format, Chunks: info.Chunks, Hash: Hash(md), Metadata: md, AppHash: st.AppHash()}, chunks
}

// restoreAll offers o to r and applies every chunk; it returns the last answer.
func restoreAll(t *testing.T, r *Restorer, o Offer, chunks [][]byte) Applied {
	t.Helper()
	res, err := r.Offer(o, true)
	if res != OfferAccept {
		t.Fatalf("offer: %v %v", res, err)
	}
	var a Applied
	for i, c := range chunks {
		a = r.Apply(context.Background(), uint32(i), c, fmt.Sprintf("peer%d", i))
		if a.Result != ApplyAccept {
			return a
		}
		if a.Done != (i == len(chunks)-1) {
			t.Fatalf("chunk %d: done %v", i, a.Done)
		}
	}
	return a
}

func dump(t *testing.T, r state.Reader, keys [][]byte) [][]byte {
	var out [][]byte
	for _, k := range keys {
		v, err := r.Get(k)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, v)
	}
	return out
}

func sampleKeys() [][]byte {
	var ks [][]byte
	for h := 1; h <= 6; h++ {
		for _, i := range []int{0, 7, 299} {
			ks = append(ks, state.ContractKey("kv", fmt.Appendf(nil, "key-%d-%d", h, i)))
		}
		ks = append(ks, state.AccountKey(bytes.Repeat([]byte{byte(h)}, 20)))
	}
	return append(ks, state.ContractKey("kv", []byte("counter")), state.ContractKey("kv", []byte("empty")), state.KeyEffectiveRuntime)
}

// TestRoundTrip: a snapshot restored into a new store gives the same height, app hash and
// values, installs the effective and pending modules with the recorded bytes, and the
// restored store goes on committing the same app hashes as the original.
func TestRoundTrip(t *testing.T) {
	src := chain(t, dbm.NewMemDB())
	o, chunks := snap(t, src, 6, manager(t, modules(t)))
	if len(chunks) < 10 {
		t.Fatalf("%d chunks: the test wants a snapshot over many chunks", len(chunks))
	}
	dstDB := dbm.NewMemDB()
	dst, err := state.Open(dstDB)
	if err != nil {
		t.Fatal(err)
	}
	rm := manager(t, nil)
	if a := restoreAll(t, NewRestorer(dst, rm, nopLog{}), o, chunks); a.Result != ApplyAccept || !a.Done {
		t.Fatalf("restore: %+v", a)
	}
	// The restore is durable: the store reopens at the snapshot's height (a restart).
	if dst, err = state.Open(dstDB); err != nil {
		t.Fatalf("reopen after restore: %v", err)
	}
	if dst.Height() != 6 || !bytes.Equal(dst.AppHash(), src.AppHash()) {
		t.Fatalf("restored at %d %X, want 6 %X", dst.Height(), dst.AppHash(), src.AppHash())
	}
	ks := sampleKeys()
	want, got := dump(t, src, ks), dump(t, dst, ks)
	for i := range ks {
		if !bytes.Equal(want[i], got[i]) || (want[i] == nil) != (got[i] == nil) {
			t.Fatalf("key %q: restored %q, want %q", ks[i], got[i], want[i])
		}
	}
	list, err := rm.List()
	if err != nil || len(list) != 2 || list[0].SHA256 != sha256.Sum256(testwasm.Module(t, "v1")) || list[1].SHA256 != sha256.Sum256(testwasm.Module(t, "v2")) {
		t.Fatalf("installed after restore: %+v %v", list, err)
	}
	for _, st := range []*state.Store{src, dst} {
		c := state.NewCache(st)
		c.Set(state.ContractKey("kv", []byte("after")), []byte("x"))
		c.Delete(state.ContractKey("kv", []byte("key-2-2")))
		commit(t, st, 7, c)
	}
	if !bytes.Equal(src.AppHash(), dst.AppHash()) {
		t.Fatalf("height 7: restored store commits %X, the original %X", dst.AppHash(), src.AppHash())
	}
}

// TestChunksIdentical: two nodes with the same state (one pruning, one reopened, one
// itself restored from a snapshot) write byte-identical chunks for the same height.
func TestChunksIdentical(t *testing.T) {
	rm := manager(t, modules(t))
	db := dbm.NewMemDB()
	a := chain(t, db)
	b := chain(t, dbm.NewMemDB(), state.WithKeepRecent(2))
	oa, ca := snap(t, a, 6, rm)
	ob, cb := snap(t, b, 6, rm)
	reopened, err := state.Open(db)
	if err != nil {
		t.Fatal(err)
	}
	oc, cc := snap(t, reopened, 6, rm)
	restored, err := state.Open(dbm.NewMemDB())
	if err != nil {
		t.Fatal(err)
	}
	if r := restoreAll(t, NewRestorer(restored, manager(t, nil), nopLog{}), oa, ca); !r.Done {
		t.Fatalf("restore: %+v", r)
	}
	od, cd := snap(t, restored, 6, rm)
	for name, o := range map[string]struct {
		o Offer
		c [][]byte
	}{"pruning": {ob, cb}, "reopened": {oc, cc}, "restored": {od, cd}} {
		if !bytes.Equal(o.o.Hash, oa.Hash) || !bytes.Equal(o.o.Metadata, oa.Metadata) || len(o.c) != len(ca) {
			t.Fatalf("%s: snapshot %X with %d chunks, want %X with %d", name, o.o.Hash, len(o.c), oa.Hash, len(ca))
		}
		for i := range ca {
			if !bytes.Equal(o.c[i], ca[i]) {
				t.Fatalf("%s: chunk %d differs", name, i)
			}
		}
	}
}

// TestCorruptChunk: a chunk that does not match its hash is refused before use (refetch it,
// reject its sender), and the restore completes with the good chunk from another peer.
func TestCorruptChunk(t *testing.T) {
	src := chain(t, dbm.NewMemDB())
	o, chunks := snap(t, src, 6, manager(t, modules(t)))
	dst, _ := state.Open(dbm.NewMemDB())
	r := NewRestorer(dst, manager(t, nil), nopLog{})
	if res, err := r.Offer(o, true); res != OfferAccept {
		t.Fatal(res, err)
	}
	ctx := context.Background()
	for i, c := range chunks {
		if i == 3 {
			bad := append([]byte(nil), c...)
			bad[len(bad)/2] ^= 1
			a := r.Apply(ctx, 3, bad, "evil")
			if a.Result != ApplyRetry || len(a.RefetchChunks) != 1 || a.RefetchChunks[0] != 3 || len(a.RejectSenders) != 1 || a.RejectSenders[0] != "evil" {
				t.Fatalf("corrupt chunk answered %+v", a)
			}
		}
		if a := r.Apply(ctx, uint32(i), c, "good"); a.Result != ApplyAccept {
			t.Fatalf("chunk %d: %+v", i, a)
		}
	}
	if dst.Height() != 6 || !bytes.Equal(dst.AppHash(), src.AppHash()) {
		t.Fatalf("restored at %d %X", dst.Height(), dst.AppHash())
	}
}

// TestWrongTrustedHash: a snapshot whose restored root is not the trusted app hash is
// rejected and leaves the store empty: the next (good) offer restores.
func TestWrongTrustedHash(t *testing.T) {
	src := chain(t, dbm.NewMemDB())
	o, chunks := snap(t, src, 6, manager(t, modules(t)))
	dst, _ := state.Open(dbm.NewMemDB())
	rm := manager(t, nil)
	r := NewRestorer(dst, rm, nopLog{})
	bad := o
	bad.AppHash = append([]byte(nil), o.AppHash...)
	bad.AppHash[0] ^= 1
	a := restoreAll(t, r, bad, chunks)
	if a.Result != ApplyRejectSnapshot || !errors.Is(a.Err, state.ErrRootMismatch) {
		t.Fatalf("wrong trusted hash: %+v", a)
	}
	if dst.Height() != 0 {
		t.Fatalf("store at %d after a rejected snapshot", dst.Height())
	}
	if l, _ := rm.List(); len(l) != 0 {
		t.Fatalf("modules installed from a rejected snapshot: %+v", l)
	}
	if a := restoreAll(t, r, o, chunks); !a.Done || !bytes.Equal(dst.AppHash(), src.AppHash()) {
		t.Fatalf("good snapshot after a rejected one: %+v", a)
	}
}

// TestOfferRefused: an unknown format, a node holding state, and inconsistent metadata are
// refused at the offer, and nothing is written.
func TestOfferRefused(t *testing.T) {
	src := chain(t, dbm.NewMemDB())
	o, _ := snap(t, src, 6, manager(t, modules(t)))
	empty, _ := state.Open(dbm.NewMemDB())
	r := NewRestorer(empty, manager(t, nil), nopLog{})
	f := o
	f.Format = 2
	if res, err := r.Offer(f, true); res != OfferRejectFormat || !errors.Is(err, ErrFormat) {
		t.Fatalf("format 2: %v %v", res, err)
	}
	if res, _ := r.Offer(o, false); res != OfferAbort {
		t.Fatalf("app not empty: %v", res)
	}
	m := o
	m.Metadata = m.Metadata[:len(m.Metadata)-1]
	if res, _ := r.Offer(m, true); res != OfferReject {
		t.Fatalf("short metadata: %v", res)
	}
	h := o
	h.Hash = bytes.Repeat([]byte{1}, 32)
	if res, _ := r.Offer(h, true); res != OfferReject {
		t.Fatalf("hash not of the metadata: %v", res)
	}
	// A node with state refuses, and its state is untouched.
	full := chain(t, dbm.NewMemDB())
	before := full.AppHash()
	if res, err := NewRestorer(full, manager(t, nil), nopLog{}).Offer(o, true); res != OfferAbort {
		t.Fatalf("store at height %d: %v %v", full.Height(), res, err)
	}
	if _, err := full.Import(6); !errors.Is(err, state.ErrNotEmpty) {
		t.Fatalf("import into a store with state: %v", err)
	}
	if full.Height() != 6 || !bytes.Equal(full.AppHash(), before) {
		t.Fatal("a refused snapshot changed the store")
	}
}

// TestWrongModule: a snapshot whose carried module does not hash to the sha256 its
// restored state records (a lying provider: chunk hashes made to match) is rejected with
// the senders of the module's chunks, installs nothing and leaves the store empty.
func TestWrongModule(t *testing.T) {
	src := chain(t, dbm.NewMemDB())
	v, err := src.OpenVersion(6)
	if err != nil {
		t.Fatal(err)
	}
	need, err := Required(v)
	if err != nil || len(need) != 2 {
		t.Fatalf("required %+v %v", need, err)
	}
	mods, err := readModules(need, manager(t, modules(t)))
	if err != nil {
		t.Fatal(err)
	}
	mods[1].Wasm = testwasm.Module(t, "testmod") // claims v2's sha256, carries other bytes
	var chunks [][]byte
	c := &chunker{size: testChunk, emit: func(_ int, b []byte) error { chunks = append(chunks, append([]byte(nil), b...)); return nil }}
	if _, err := writeStream(v, mods, c); err != nil {
		t.Fatal(err)
	}
	var md []byte
	for _, h := range c.hashes {
		md = append(md, h[:]...)
	}
	o := Offer{Height: 6, Format: Format, Chunks: uint32(len(chunks)), Metadata: md, Hash: Hash(md), AppHash: src.AppHash()}
	dst, _ := state.Open(dbm.NewMemDB())
	rm := manager(t, nil)
	a := restoreAll(t, NewRestorer(dst, rm, nopLog{}), o, chunks)
	if a.Result != ApplyRejectSnapshot || len(a.RejectSenders) == 0 {
		t.Fatalf("wrong module: %+v", a)
	}
	last := fmt.Sprintf("peer%d", len(chunks)-1)
	if a.RejectSenders[len(a.RejectSenders)-1] != last && a.RejectSenders[0] == "peer0" {
		t.Fatalf("rejected senders %v: want those of the module's chunks", a.RejectSenders)
	}
	if dst.Height() != 0 {
		t.Fatalf("store at %d", dst.Height())
	}
	if l, _ := rm.List(); len(l) != 0 {
		t.Fatalf("installed: %+v", l)
	}
}

// TestGarbageStream: chunks that match their (provider-made) hashes but do not decode are
// rejected as a snapshot, without a panic, and nothing stays written.
func TestGarbageStream(t *testing.T) {
	src := chain(t, dbm.NewMemDB())
	o, chunks := snap(t, src, 6, manager(t, modules(t)))
	for _, at := range []int{0, 1, 50, 2000} {
		bad := append([][]byte(nil), chunks...)
		bad[0] = append([]byte(nil), chunks[0]...)
		bad[0][at] ^= 0xff
		var md []byte
		for _, b := range bad {
			h := sha256.Sum256(b)
			md = append(md, h[:]...)
		}
		g := o
		g.Metadata, g.Hash = md, Hash(md)
		dst, _ := state.Open(dbm.NewMemDB())
		a := restoreAll(t, NewRestorer(dst, manager(t, nil), nopLog{}), g, bad)
		if a.Result != ApplyRejectSnapshot || dst.Height() != 0 {
			t.Fatalf("byte %d flipped: %+v, height %d", at, a, dst.Height())
		}
	}
}

// TestTakeRetainsAndServes: the manager takes a snapshot at its interval in the
// background, keeps the newest keep_recent, and a retained height survives pruning.
func TestTakeRetainsAndServes(t *testing.T) {
	st := chain(t, dbm.NewMemDB(), state.WithKeepRecent(2))
	dir := t.TempDir()
	m, err := NewManager(st, manager(t, modules(t)), dir, 2, 2, nopLog{})
	if err != nil {
		t.Fatal(err)
	}
	must(t, st.Retain(6))
	for h := int64(7); h <= 10; h++ {
		c := state.NewCache(st)
		c.Set(state.ContractKey("kv", []byte("n")), fmt.Appendf(nil, "%d", h))
		commit(t, st, h, c)
		m.Committed(h)
		m.Wait()
	}
	if _, err := st.OpenVersion(6); err != nil {
		t.Fatalf("retained version 6 was pruned: %v", err)
	}
	st.Release(6)
	c := state.NewCache(st)
	commit(t, st, 11, c)
	if _, err := st.OpenVersion(6); err == nil {
		t.Fatal("version 6 still there after its release")
	}
	list, err := m.List()
	if err != nil || len(list) != 2 || list[0].Height != 10 || list[1].Height != 8 {
		t.Fatalf("kept snapshots %+v %v, want 10 and 8", list, err)
	}
	if b := m.Chunk(10, Format, 0); len(b) == 0 {
		t.Fatal("chunk 0 of snapshot 10 not served")
	}
	if b := m.Chunk(10, 7, 0); b != nil {
		t.Fatal("a chunk served for an unknown format")
	}
	if _, err := os.Stat(dir + "/6"); err == nil {
		t.Fatal("snapshot at a height off the interval")
	}
}

// TestTakeWhileCommitting: snapshots taken in the background while blocks keep committing
// and pruning (keep_recent 2) each restore to the app hash of their own height.
func TestTakeWhileCommitting(t *testing.T) {
	st := chain(t, dbm.NewMemDB(), state.WithKeepRecent(2))
	log := &errLog{}
	m, err := NewManager(st, manager(t, modules(t)), t.TempDir(), 3, 3, log)
	if err != nil {
		t.Fatal(err)
	}
	hashes := map[int64][]byte{}
	for h := int64(7); h <= 30; h++ {
		c := state.NewCache(st)
		for i := range 200 {
			c.Set(state.ContractKey("kv", fmt.Appendf(nil, "k%d", (int(h)*7+i)%500)), fmt.Appendf(nil, "%d-%d", h, i))
		}
		hashes[h] = commit(t, st, h, c)
		m.Committed(h)
		time.Sleep(20 * time.Millisecond) // paces the blocks so that several snapshots run
	}
	m.Wait()
	for _, e := range log.errs {
		if !strings.Contains(e, "still being taken") {
			t.Fatalf("a snapshot failed: %s", e)
		}
	}
	list, err := m.List()
	if err != nil || len(list) == 0 {
		t.Fatalf("snapshots %+v %v", list, err)
	}
	for _, o := range list {
		var chunks [][]byte
		for i := range o.Chunks {
			chunks = append(chunks, m.Chunk(o.Height, Format, i))
		}
		o.AppHash = hashes[o.Height]
		dst, _ := state.Open(dbm.NewMemDB())
		if a := restoreAll(t, NewRestorer(dst, manager(t, nil), nopLog{}), o, chunks); !a.Done {
			t.Fatalf("snapshot %d: %+v", o.Height, a)
		}
	}
	t.Logf("%d snapshots taken while committing, each restored to its height's app hash", len(list))
}

// errLog records the errors logged.
type errLog struct {
	mu   sync.Mutex
	errs []string
}

func (*errLog) Info(string, ...any) {}
func (l *errLog) Error(msg string, kv ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.errs = append(l.errs, fmt.Sprint(msg, kv))
}
