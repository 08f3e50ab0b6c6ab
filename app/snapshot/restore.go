package snapshot

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/vchain/vchain/app/runtime"
	"github.com/vchain/vchain/app/state"
)

// Logger is the logging this package needs; CometBFT's log.Logger satisfies it.
type Logger interface {
	Info(msg string, keyvals ...any)
	Error(msg string, keyvals ...any)
}

// Installer installs a runtime module (runtime.Manager).
type Installer interface {
	Install(ctx context.Context, version uint64, wasm []byte) (*runtime.Module, error)
}

// Offer is a snapshot a peer offers, with the app hash of its height from a header the
// node's light client verified.
type Offer struct {
	Height   int64
	Format   uint32
	Chunks   uint32
	Hash     []byte
	Metadata []byte
	AppHash  []byte
}

// OfferResult is the answer to an offer (ABCI's ResponseOfferSnapshot results).
type OfferResult int

const (
	OfferAccept       OfferResult = iota
	OfferAbort                    // this node cannot restore any snapshot (it holds state)
	OfferReject                   // not this snapshot; try another
	OfferRejectFormat             // not this format
)

// ApplyResult is the answer to a chunk (ABCI's ResponseApplySnapshotChunk results).
type ApplyResult int

const (
	ApplyAccept         ApplyResult = iota
	ApplyAbort                      // a local failure: state sync cannot go on
	ApplyRetry                      // refetch the chunks named (from other peers)
	ApplyRejectSnapshot             // the snapshot is bad: try another
)

// Applied is the outcome of one chunk.
type Applied struct {
	Result        ApplyResult
	RefetchChunks []uint32
	RejectSenders []string
	// Done is set when the last chunk restored the state: the node is at Offer.Height.
	Done bool
	Err  error // why, for the log, when Result is not ApplyAccept
}

// Restorer restores snapshots into an empty store, one at a time, as CometBFT's state sync
// offers them and hands over their chunks (in order).
type Restorer struct {
	st  *state.Store
	rm  Installer
	log Logger

	mu  sync.Mutex
	cur *restore
}

// NewRestorer returns a restorer into st that installs carried modules through rm.
func NewRestorer(st *state.Store, rm Installer, log Logger) *Restorer {
	return &Restorer{st: st, rm: rm, log: log}
}

type restore struct {
	offer   Offer
	hashes  [][32]byte
	imp     *state.Import
	next    uint32 // the chunk expected next
	buf     []byte // stream bytes not yet decoded (an item cut by a chunk boundary)
	senders []string
	started time.Time
	size    int64

	header  bool   // header item read
	store   string // current store, "" before the first
	modules []Module
	modFrom []string // senders of the chunks that carried module bytes
	ended   bool
}

// Offer answers a snapshot offer. empty must say whether the app holds no state at all (no
// block committed, no InitChain): a snapshot is restored only into a new node.
func (r *Restorer) Offer(o Offer, empty bool) (OfferResult, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cur != nil { // CometBFT offers another snapshot after giving up on one
		r.drop()
	}
	if o.Format != Format {
		return OfferRejectFormat, fmt.Errorf("%w %d (this node reads format %d)", ErrFormat, o.Format, Format)
	}
	if !empty || r.st.Height() != 0 {
		return OfferAbort, fmt.Errorf("this node already holds state (height %d): a snapshot is restored only into a new home", r.st.Height())
	}
	if o.Height < 1 || o.Chunks == 0 || len(o.Metadata) != int(o.Chunks)*sha256.Size {
		return OfferReject, fmt.Errorf("snapshot at height %d: %d chunks with %d bytes of chunk hashes", o.Height, o.Chunks, len(o.Metadata))
	}
	if !bytes.Equal(Hash(o.Metadata), o.Hash) {
		return OfferReject, errors.New("snapshot hash is not the sha256 of its chunk hashes")
	}
	if len(o.AppHash) == 0 {
		return OfferReject, errors.New("no trusted app hash for the snapshot's height")
	}
	imp, err := r.st.Import(o.Height)
	if err != nil {
		return OfferAbort, err
	}
	c := &restore{offer: o, imp: imp, started: time.Now()}
	for i := range o.Chunks {
		var h [32]byte
		copy(h[:], o.Metadata[i*sha256.Size:])
		c.hashes = append(c.hashes, h)
	}
	r.cur = c
	r.log.Info("restoring snapshot", "height", o.Height, "chunks", o.Chunks, "app_hash", fmt.Sprintf("%X", o.AppHash))
	return OfferAccept, nil
}

// drop abandons the restore in progress and wipes what it wrote.
func (r *Restorer) drop() {
	if err := r.cur.imp.Abort(); err != nil {
		r.log.Error("drop an abandoned restore", "height", r.cur.offer.Height, "err", err)
	}
	r.cur = nil
}

// Apply applies chunk index, received from sender.
func (r *Restorer) Apply(ctx context.Context, index uint32, chunk []byte, sender string) Applied {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := r.cur
	if c == nil {
		return Applied{Result: ApplyAbort, Err: errors.New("a chunk with no snapshot being restored")}
	}
	if index != c.next {
		// CometBFT applies chunks in order; ask again for the one due.
		return Applied{Result: ApplyRetry, RefetchChunks: []uint32{c.next}, Err: fmt.Errorf("chunk %d arrived, %d is due", index, c.next)}
	}
	if sha256.Sum256(chunk) != c.hashes[index] {
		return Applied{Result: ApplyRetry, RefetchChunks: []uint32{index}, RejectSenders: nonEmpty(sender),
			Err: fmt.Errorf("chunk %d of snapshot %d from peer %s does not match its sha256: refetching it from another peer", index, c.offer.Height, sender)}
	}
	c.next++
	c.size += int64(len(chunk))
	if err := c.decode(chunk, sender); err != nil {
		r.drop()
		return Applied{Result: ApplyRejectSnapshot, Err: fmt.Errorf("snapshot %d, chunk %d: %w", c.offer.Height, index, err)}
	}
	if c.next < c.offer.Chunks {
		return Applied{Result: ApplyAccept}
	}
	res := r.finish(ctx, c)
	if res.Result != ApplyAccept {
		r.drop()
		return res
	}
	r.cur = nil
	return res
}

func nonEmpty(s string) []string {
	if s == "" {
		return nil
	}
	return []string{s}
}

// decode appends a verified chunk to the stream and applies every whole item in it.
func (c *restore) decode(chunk []byte, sender string) error {
	c.buf = append(c.buf, chunk...)
	c.senders = append(c.senders, sender)
	off, whole := 0, false
	for off < len(c.buf) {
		body, n, err := nextItem(c.buf[off:])
		if errors.Is(err, errShort) {
			break
		}
		if err != nil {
			return err
		}
		if err := c.item(body); err != nil {
			return err
		}
		off += n
		whole = true
	}
	c.buf = append(c.buf[:0], c.buf[off:]...)
	switch {
	case len(c.buf) == 0:
		c.senders = nil
	case whole: // the bytes left over came in this chunk
		c.senders = []string{sender}
	}
	return nil
}

func (c *restore) item(body []byte) error {
	if c.ended {
		return errors.New("data after the end of the stream")
	}
	kind, rest := body[0], body[1:]
	if !c.header && kind != kindHeader {
		return errors.New("the stream does not start with a header")
	}
	switch kind {
	case kindHeader:
		if c.header {
			return errors.New("a second header")
		}
		h, err := parseHeader(rest)
		if err != nil {
			return err
		}
		if h != c.offer.Height {
			return fmt.Errorf("the stream is of height %d, the snapshot was offered as %d", h, c.offer.Height)
		}
		c.header = true
	case kindStore:
		if len(c.modules) > 0 {
			return errors.New("a store after the modules")
		}
		c.store = string(rest)
		return c.imp.Begin(c.store)
	case kindNode:
		if c.store == "" || len(c.modules) > 0 {
			return errors.New("a tree node outside a store")
		}
		n, err := parseNode(rest)
		if err != nil {
			return err
		}
		return c.imp.Add(n)
	case kindModule:
		m, err := parseModule(rest)
		if err != nil {
			return err
		}
		if k := len(c.modules); k > 0 && c.modules[k-1].Version >= m.Version {
			return errors.New("modules out of order")
		}
		c.modules = append(c.modules, m)
		c.modFrom = append(c.modFrom, c.senders...)
	case kindEnd:
		if len(rest) != 0 {
			return errors.New("bytes in the end item")
		}
		c.ended = true
	default:
		return fmt.Errorf("unknown item kind %q", kind)
	}
	return nil
}

// finish checks the restored state and the modules, installs them and makes the height
// durable.
func (r *Restorer) finish(ctx context.Context, c *restore) Applied {
	if !c.ended || len(c.buf) != 0 {
		return Applied{Result: ApplyRejectSnapshot, Err: fmt.Errorf("snapshot %d: the stream is cut short", c.offer.Height)}
	}
	v, err := c.imp.Finish(c.offer.AppHash)
	if err != nil {
		return Applied{Result: ApplyRejectSnapshot, Err: fmt.Errorf("snapshot %d: %w", c.offer.Height, err)}
	}
	need, err := Required(v)
	if err != nil {
		return Applied{Result: ApplyRejectSnapshot, Err: fmt.Errorf("snapshot %d: restored state: %w", c.offer.Height, err)}
	}
	if err := checkModules(need, c.modules); err != nil {
		return Applied{Result: ApplyRejectSnapshot, RejectSenders: dedup(c.modFrom), Err: fmt.Errorf("snapshot %d: %w", c.offer.Height, err)}
	}
	// Installed before the commit record: a crash in between leaves an empty store (state
	// sync starts over) with modules the chain expects, never a state without its runtime.
	for _, m := range c.modules {
		if _, err := r.rm.Install(ctx, m.Version, m.Wasm); err != nil {
			return Applied{Result: ApplyAbort, Err: fmt.Errorf("snapshot %d: install runtime v%d: %w", c.offer.Height, m.Version, err)}
		}
		r.log.Info("runtime installed from the snapshot", "version", m.Version, "sha256", fmt.Sprintf("%x", m.SHA256), "bytes", len(m.Wasm))
	}
	if err := c.imp.Commit(c.offer.AppHash); err != nil {
		return Applied{Result: ApplyAbort, Err: err}
	}
	r.log.Info("snapshot restored", "height", c.offer.Height, "bytes", c.size, "chunks", c.offer.Chunks,
		"modules", len(c.modules), "duration", time.Since(c.started).Round(time.Millisecond).String())
	return Applied{Result: ApplyAccept, Done: true}
}

// checkModules refuses carried modules that are not exactly the required ones with the
// bytes the restored state records.
func checkModules(need, got []Module) error {
	if len(got) != len(need) {
		return fmt.Errorf("carries %d runtime modules, the state needs %d", len(got), len(need))
	}
	for i, n := range need {
		g := got[i]
		if g.Version != n.Version {
			return fmt.Errorf("carries runtime v%d where the state needs v%d", g.Version, n.Version)
		}
		if sum := sha256.Sum256(g.Wasm); sum != n.SHA256 || g.SHA256 != n.SHA256 {
			return fmt.Errorf("runtime v%d: the module carried has sha256 %x, the restored state records %x", n.Version, sum, n.SHA256)
		}
	}
	return nil
}

func dedup(s []string) []string {
	var out []string
	for _, x := range s {
		if x != "" && !slices.Contains(out, x) {
			out = append(out, x)
		}
	}
	return out
}
