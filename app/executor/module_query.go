package executor

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"

	"github.com/vchain/vchain/app/codes"
	"github.com/vchain/vchain/app/runtime"
)

// ModuleChunkSize is how many bytes of a module one /runtime/module answer carries. A
// Go runtime module (2-3 MB) takes about a dozen answers; each stays far below what
// CometBFT's RPC carries comfortably once base64 is applied twice (JSON here, JSON-RPC
// around it), and the query holds the commit lock only for one bounded file read.
const ModuleChunkSize = 256 << 10

// ModuleChunk is the JSON answer of /runtime/module/<version>: one chunk of an installed
// module's bytes, with what the whole module is, so a fetcher can check every answer
// describes the same file. Nothing here is trusted by the fetcher beyond assembling the
// bytes: it accepts the module only if the whole hashes to the chain's sha256.
type ModuleChunk struct {
	Version    uint64 `json:"version"`
	CodeSHA256 string `json:"code_sha256"`
	Size       int64  `json:"size"`
	ChunkSize  int    `json:"chunk_size"`
	Chunks     int    `json:"chunks"`
	Index      int    `json:"index"`
	Data       []byte `json:"data"`
}

// queryModule answers /runtime/module/<version> with data = the chunk index in decimal
// (empty: 0), read-only, from the modules this node has installed.
func (e *Executor) queryModule(version string, data []byte) (any, *codes.Error) {
	v, err := strconv.ParseUint(version, 10, 64)
	if err != nil || v == 0 {
		return nil, codes.Errorf(QueryBad, "/runtime/module/%s: the version must be a number >= 1", version)
	}
	index := 0
	if len(data) > 0 {
		i, err := strconv.Atoi(string(data))
		if err != nil || i < 0 {
			return nil, codes.Errorf(QueryBad, "/runtime/module/%d: the query data must be a chunk index >= 0 in decimal, got %q", v, data)
		}
		index = i
	}
	return ReadModuleChunk(e.runtimes, v, index, ModuleChunkSize)
}

// ReadModuleChunk reads chunk index (of chunkSize bytes) of version's module installed in
// m. A version not installed is QueryNotFound; an index past the end is QueryBad.
func ReadModuleChunk(m *runtime.Manager, version uint64, index, chunkSize int) (*ModuleChunk, *codes.Error) {
	list, err := m.List()
	if err != nil {
		return nil, codes.Errorf(QueryFailed, "%v", err)
	}
	var in *runtime.Installed
	for i := range list {
		if list[i].Version == version {
			in = &list[i]
		}
	}
	if in == nil {
		return nil, codes.Errorf(QueryNotFound, "runtime v%d is not installed on this node", version)
	}
	f, err := os.Open(in.Path)
	if err != nil {
		return nil, codes.Errorf(QueryFailed, "open v%d: %v", version, err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, codes.Errorf(QueryFailed, "stat v%d: %v", version, err)
	}
	size := info.Size()
	chunks := int((size + int64(chunkSize) - 1) / int64(chunkSize))
	if index >= chunks {
		return nil, codes.Errorf(QueryBad, "runtime v%d has %d chunks of %d bytes: there is no chunk %d", version, chunks, chunkSize, index)
	}
	buf := make([]byte, min(int64(chunkSize), size-int64(index)*int64(chunkSize)))
	if _, err := f.ReadAt(buf, int64(index)*int64(chunkSize)); err != nil && !errors.Is(err, io.EOF) {
		return nil, codes.Errorf(QueryFailed, "read v%d: %v", version, err)
	}
	return &ModuleChunk{Version: version, CodeSHA256: in.SHA256.String(), Size: size, ChunkSize: chunkSize,
		Chunks: chunks, Index: index, Data: buf}, nil
}

// String describes a chunk without its bytes, for logs.
func (c *ModuleChunk) String() string {
	return fmt.Sprintf("v%d chunk %d/%d (%d bytes of %d, sha256 %s)", c.Version, c.Index, c.Chunks, len(c.Data), c.Size, c.CodeSHA256)
}
