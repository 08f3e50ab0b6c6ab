package snapshot

import (
	"encoding/hex"
	"fmt"
	"sync"
	"time"

	"github.com/vchain/vchain/app/runtime"
	"github.com/vchain/vchain/app/state"
)

// Take writes the snapshot of st's committed version h into d, carrying the modules of
// the runtime versions that state needs, read from rm's directory. The caller keeps h
// from pruning (state.Store.Retain) until Take returns.
func Take(st *state.Store, h int64, rm *runtime.Manager, d *Disk) (Info, error) {
	return take(st, h, rm, d, ChunkSize)
}

func take(st *state.Store, h int64, rm *runtime.Manager, d *Disk, chunkSize int) (Info, error) {
	v, err := st.OpenVersion(h)
	if err != nil {
		return Info{}, err
	}
	need, err := Required(v)
	if err != nil {
		return Info{}, fmt.Errorf("snapshot %d: %w", h, err)
	}
	mods, err := readModules(need, rm)
	if err != nil {
		return Info{}, fmt.Errorf("snapshot %d: %w", h, err)
	}
	w, err := d.create(h)
	if err != nil {
		return Info{}, err
	}
	c := &chunker{size: chunkSize, emit: w.chunk}
	nodes, err := writeStream(v, mods, c)
	if err != nil {
		w.abort()
		return Info{}, fmt.Errorf("snapshot %d: %w", h, err)
	}
	info := Info{Height: h, Format: Format, Chunks: uint32(c.n), Size: c.total, Nodes: nodes}
	for _, hs := range c.hashes {
		info.Hashes = append(info.Hashes, hex.EncodeToString(hs[:]))
	}
	if err := w.commit(info); err != nil {
		w.abort()
		return Info{}, err
	}
	return info, nil
}

// Manager takes a snapshot every Interval heights in the background and keeps the newest
// KeepRecent; it also serves them to peers and restores one into a new node.
type Manager struct {
	*Restorer
	st       *state.Store
	rm       *runtime.Manager
	disk     *Disk
	interval int64
	keep     int
	log      Logger

	mu      sync.Mutex
	running bool
	wg      sync.WaitGroup
}

// NewManager returns a manager over the snapshot directory dir. interval 0 takes none
// (the node still serves what dir holds and can be restored).
func NewManager(st *state.Store, rm *runtime.Manager, dir string, interval int64, keep int, log Logger) (*Manager, error) {
	if interval < 0 || keep < 1 {
		return nil, fmt.Errorf("snapshot interval %d, keep_recent %d: the interval must be 0 (off) or more, keep_recent at least 1", interval, keep)
	}
	d, err := OpenDisk(dir)
	if err != nil {
		return nil, err
	}
	return &Manager{Restorer: NewRestorer(st, rm, log), st: st, rm: rm, disk: d, interval: interval, keep: keep, log: log}, nil
}

// Disk returns the snapshot store.
func (m *Manager) Disk() *Disk { return m.disk }

// Committed is called after each commit, on the consensus goroutine. At a snapshot height
// it retains the version (before the next commit could prune it) and takes the snapshot
// in the background; consensus does not wait. A snapshot still being taken makes this
// height's be skipped.
func (m *Manager) Committed(h int64) {
	if m.interval == 0 || h%m.interval != 0 {
		return
	}
	m.mu.Lock()
	if m.running {
		m.mu.Unlock()
		m.log.Error("snapshot skipped: the previous one is still being taken", "height", h)
		return
	}
	m.running = true
	m.mu.Unlock()
	if err := m.st.Retain(h); err != nil {
		m.done()
		m.log.Error("snapshot skipped", "height", h, "err", err)
		return
	}
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		defer m.done()
		defer m.st.Release(h)
		start := time.Now()
		info, err := Take(m.st, h, m.rm, m.disk)
		if err != nil {
			m.log.Error("snapshot failed", "height", h, "err", err)
			return
		}
		m.log.Info("snapshot taken", "height", h, "bytes", info.Size, "chunks", info.Chunks, "nodes", info.Nodes,
			"duration", time.Since(start).Round(time.Millisecond).String(), "dir", m.disk.path(h))
		if err := m.disk.Prune(m.keep); err != nil {
			m.log.Error("prune old snapshots", "err", err)
		}
	}()
}

func (m *Manager) done() {
	m.mu.Lock()
	m.running = false
	m.mu.Unlock()
}

// Wait waits for a snapshot being taken (before the store closes).
func (m *Manager) Wait() { m.wg.Wait() }

// List returns the kept snapshots as offered to peers, newest first.
func (m *Manager) List() ([]Offer, error) {
	infos, err := m.disk.List()
	if err != nil {
		return nil, err
	}
	var out []Offer
	for _, i := range infos {
		md, err := i.Metadata()
		if err != nil {
			m.log.Error("skipping a damaged snapshot", "height", i.Height, "err", err)
			continue
		}
		out = append(out, Offer{Height: i.Height, Format: i.Format, Chunks: i.Chunks, Hash: Hash(md), Metadata: md})
	}
	return out, nil
}

// Chunk returns chunk index of the snapshot at height in format, or nil if this node does
// not have it.
func (m *Manager) Chunk(height int64, format, index uint32) []byte {
	if format != Format {
		return nil
	}
	b, err := m.disk.Chunk(height, index)
	if err != nil {
		m.log.Error("a peer asked for a snapshot chunk this node does not have", "height", height, "chunk", index, "err", err)
		return nil
	}
	return b
}
