package snapshot

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
)

// Info describes a snapshot kept on disk: what ListSnapshots offers peers.
type Info struct {
	Height int64    `json:"height"`
	Format uint32   `json:"format"`
	Chunks uint32   `json:"chunks"`
	Size   int64    `json:"size"`
	Nodes  int      `json:"nodes"`
	Hashes []string `json:"chunk_sha256"` // hex, in chunk order
}

// Metadata is the ABCI snapshot metadata: the chunks' sha256 hashes concatenated.
func (i Info) Metadata() ([]byte, error) {
	var out []byte
	for _, h := range i.Hashes {
		b, err := hex.DecodeString(h)
		if err != nil || len(b) != sha256.Size {
			return nil, fmt.Errorf("snapshot %d: bad chunk hash %q", i.Height, h)
		}
		out = append(out, b...)
	}
	return out, nil
}

// Hash is the ABCI snapshot hash: the sha256 of Metadata.
func Hash(metadata []byte) []byte {
	h := sha256.Sum256(metadata)
	return h[:]
}

// Disk keeps snapshots under a directory: <height>/info.json and <height>/chunk-<i>. A
// snapshot is written under <height>.tmp and renamed when complete, so a listed snapshot
// is always whole.
type Disk struct {
	dir string
	mu  sync.Mutex
}

// OpenDisk opens (creating) the snapshot directory.
func OpenDisk(dir string) (*Disk, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("snapshot directory: %w", err)
	}
	// A snapshot being written when the node stopped is incomplete: drop it.
	tmps, _ := filepath.Glob(filepath.Join(dir, "*.tmp"))
	for _, t := range tmps {
		if err := os.RemoveAll(t); err != nil {
			return nil, fmt.Errorf("snapshot directory: %w", err)
		}
	}
	return &Disk{dir: dir}, nil
}

// Dir returns the snapshot directory.
func (d *Disk) Dir() string { return d.dir }

func (d *Disk) path(height int64) string { return filepath.Join(d.dir, strconv.FormatInt(height, 10)) }

// ChunkPath is where chunk i of the snapshot at height is kept.
func (d *Disk) ChunkPath(height int64, i uint32) string {
	return filepath.Join(d.path(height), fmt.Sprintf("chunk-%d", i))
}

// List returns the complete snapshots, newest first.
func (d *Disk) List() ([]Info, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	ents, err := os.ReadDir(d.dir)
	if err != nil {
		return nil, fmt.Errorf("list snapshots: %w", err)
	}
	var out []Info
	for _, e := range ents {
		h, err := strconv.ParseInt(e.Name(), 10, 64)
		if err != nil || !e.IsDir() {
			continue // <height>.tmp and anything else
		}
		raw, err := os.ReadFile(filepath.Join(d.path(h), "info.json"))
		if err != nil {
			return nil, fmt.Errorf("snapshot %d: %w", h, err)
		}
		var i Info
		if err := json.Unmarshal(raw, &i); err != nil {
			return nil, fmt.Errorf("snapshot %d: info.json: %w", h, err)
		}
		out = append(out, i)
	}
	sort.Slice(out, func(a, b int) bool { return out[a].Height > out[b].Height })
	return out, nil
}

// Chunk reads chunk i of the snapshot at height. It is served as stored: the receiver
// checks it against the metadata.
func (d *Disk) Chunk(height int64, i uint32) ([]byte, error) {
	b, err := os.ReadFile(d.ChunkPath(height, i))
	if err != nil {
		return nil, fmt.Errorf("snapshot %d chunk %d: %w", height, i, err)
	}
	return b, nil
}

// writer writes one snapshot under <height>.tmp.
type writer struct {
	d      *Disk
	height int64
	tmp    string
}

func (d *Disk) create(height int64) (*writer, error) {
	tmp := d.path(height) + ".tmp"
	if err := os.RemoveAll(tmp); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return nil, fmt.Errorf("snapshot %d: %w", height, err)
	}
	return &writer{d: d, height: height, tmp: tmp}, nil
}

func (w *writer) chunk(i int, b []byte) error {
	if err := os.WriteFile(filepath.Join(w.tmp, fmt.Sprintf("chunk-%d", i)), b, 0o644); err != nil {
		return fmt.Errorf("snapshot %d: write chunk %d: %w", w.height, i, err)
	}
	return nil
}

func (w *writer) commit(info Info) error {
	raw, err := json.MarshalIndent(info, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(w.tmp, "info.json"), raw, 0o644); err != nil {
		return fmt.Errorf("snapshot %d: %w", w.height, err)
	}
	w.d.mu.Lock()
	defer w.d.mu.Unlock()
	final := w.d.path(w.height)
	if err := os.RemoveAll(final); err != nil {
		return err
	}
	if err := os.Rename(w.tmp, final); err != nil {
		return fmt.Errorf("snapshot %d: %w", w.height, err)
	}
	return nil
}

func (w *writer) abort() { _ = os.RemoveAll(w.tmp) }

// Prune deletes all but the keep newest snapshots.
func (d *Disk) Prune(keep int) error {
	list, err := d.List()
	if err != nil {
		return err
	}
	var errs []error
	for i, s := range list {
		if i < keep {
			continue
		}
		d.mu.Lock()
		if err := os.RemoveAll(d.path(s.Height)); err != nil {
			errs = append(errs, err)
		}
		d.mu.Unlock()
	}
	return errors.Join(errs...)
}
