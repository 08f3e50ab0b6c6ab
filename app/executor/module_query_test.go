package executor_test

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"github.com/vchain/vchain/app/executor"
	"github.com/vchain/vchain/internal/testwasm"
)

// TestModuleQuery: /runtime/module/<version> serves the installed module in chunks that
// reassemble to its bytes, and refuses what it cannot serve with the right code.
func TestModuleQuery(t *testing.T) {
	n := newNode(t, nil, "", "v1")
	n.initChain("v1")
	want := testwasm.Module(t, "v1")
	var got []byte
	chunks := 0
	for i := 0; ; i++ {
		r := n.exec.Query("/runtime/module/1", []byte(strconv.Itoa(i)))
		if r.Code != executor.QueryOK {
			t.Fatalf("chunk %d: %d %s", i, r.Code, r.Log)
		}
		var c executor.ModuleChunk
		if err := json.Unmarshal(r.Value, &c); err != nil {
			t.Fatal(err)
		}
		if c.Index != i || c.Size != int64(len(want)) || c.ChunkSize != executor.ModuleChunkSize || len(c.Data) > executor.ModuleChunkSize {
			t.Fatalf("chunk %d: %s", i, &c)
		}
		got = append(got, c.Data...)
		chunks = c.Chunks
		if i == c.Chunks-1 {
			if c.Chunks < 2 {
				t.Fatalf("a %d-byte module in %d chunk: the test wants several", len(want), c.Chunks)
			}
			break
		}
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("reassembled %d bytes differ from the module's %d", len(got), len(want))
	}
	for _, c := range []struct {
		path, data string
		code       uint32
		says       string
	}{
		{"/runtime/module/2", "", uint32(executor.QueryNotFound), "runtime v2 is not installed on this node"},
		{"/runtime/module/0", "", uint32(executor.QueryBad), "the version must be a number >= 1"},
		{"/runtime/module/x", "", uint32(executor.QueryBad), "the version must be a number >= 1"},
		{"/runtime/module/1", "-1", uint32(executor.QueryBad), "chunk index >= 0"},
		{"/runtime/module/1", strconv.Itoa(chunks), uint32(executor.QueryBad), "there is no chunk " + strconv.Itoa(chunks)},
	} {
		r := n.exec.Query(c.path, []byte(c.data))
		if uint32(r.Code) != c.code || !strings.Contains(r.Log, c.says) {
			t.Errorf("%s %q: %d %q, want %d saying %q", c.path, c.data, r.Code, r.Log, c.code, c.says)
		}
	}
}
