package testnet

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vchain/vchain/internal/client"
	"github.com/vchain/vchain/internal/keyring"
)

// tamperProxy forwards JSON-RPC POSTs to a node's RPC and, depending on its mode, changes
// one byte of abci_query answers: of the value ("value"), of proof op i's data ("op0",
// "op1"), or drops the value ("drop"); "" forwards untouched. It counts the answers it
// changed, so a test knows its tampering reached the client.
type tamperProxy struct {
	target  string
	mode    atomic.Value // string
	changed atomic.Int64
}

func (p *tamperProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	resp, err := http.Post(p.target, "application/json", bytes.NewReader(body))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	var req struct{ Method string }
	mode, _ := p.mode.Load().(string)
	if json.Unmarshal(body, &req) == nil && req.Method == "abci_query" && mode != "" {
		if t, ok := tamper(out, mode); ok {
			out = t
			p.changed.Add(1)
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(resp.StatusCode)
	_, _ = w.Write(out)
}

// tamper applies mode to an abci_query JSON-RPC answer.
func tamper(raw []byte, mode string) ([]byte, bool) {
	var m map[string]any
	if json.Unmarshal(raw, &m) != nil {
		return nil, false
	}
	result, _ := m["result"].(map[string]any)
	response, _ := result["response"].(map[string]any)
	if response == nil {
		return nil, false
	}
	flip := func(holder map[string]any, field string, at func(n int) int) bool {
		s, _ := holder[field].(string)
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil || len(b) == 0 {
			return false
		}
		b[at(len(b))] ^= 0x01
		holder[field] = base64.StdEncoding.EncodeToString(b)
		return true
	}
	ok := false
	switch mode {
	case "value":
		ok = flip(response, "value", func(n int) int { return n - 1 })
	case "drop":
		_, ok = response["value"].(string)
		delete(response, "value")
	case "op0", "op1":
		proof, _ := response["proofOps"].(map[string]any) // the RPC's JSON name of proof_ops
		ops, _ := proof["ops"].([]any)
		i := int(mode[2] - '0')
		if i < len(ops) {
			op, _ := ops[i].(map[string]any)
			// A byte of the op's last hash (a sibling's): the proof still decodes, and proves
			// another root.
			ok = op != nil && flip(op, "data", func(n int) int { return n - 2 })
		}
	}
	if !ok {
		return nil, false
	}
	out, err := json.Marshal(m)
	return out, err == nil
}

// TestLightClientQuery runs `vchaind query state --prove` against a real node through a
// proxy: an absent key in the still empty contracts store is verified as absent (trusting
// the node's header on first use, with a warning), a written value is verified at its
// height from the kept trusted headers (no warning), and every answer the proxy changes
// by one byte (value, either proof op, or the value dropped to fake an absence) is
// refused with "verification failed". Trust given by --trust-height/--trust-hash works
// in a fresh home without the warning, and a wrong hash is refused without losing the
// headers the home trusted.
func TestLightClientQuery(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a node")
	}
	bin := Binary(t)
	net := Start(t, Options{Validators: 1})
	net.WaitHeight(t, 2, 60*time.Second)
	n := net.Nodes[0]
	ctx := context.Background()

	proxy := &tamperProxy{target: strings.Replace(n.RPC, "tcp://", "http://", 1)}
	srv := httptest.NewServer(proxy)
	defer srv.Close()
	homeDir := filepath.Join(t.TempDir(), "client")
	run := func(wantExit int, home string, args ...string) (string, string) {
		t.Helper()
		cmd := exec.Command(bin, append([]string{"query", "state"}, append(args, "--prove", "--home", home, "--node", srv.URL)...)...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if code != wantExit {
			t.Fatalf("query state %s (proxy mode %q, %d answers changed): exit %d, want %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), proxy.mode.Load(), proxy.changed.Load(), code, wantExit, out, stderr.String())
		}
		return string(out), stderr.String()
	}
	proxy.mode.Store("")

	// Nothing written yet: the contracts store holds only its sentinel.
	out, errOut := run(0, homeDir, "kv", "proven", "-o", "json")
	var res struct {
		Present  bool   `json:"present"`
		Height   int64  `json:"height"`
		Verified bool   `json:"verified"`
		Value    string `json:"value"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if res.Present || !res.Verified || res.Height < 1 {
		t.Fatalf("absent key: %s", out)
	}
	if !strings.Contains(errOut, "WARNING") || !strings.Contains(errOut, "on first use") {
		t.Fatalf("first use without --trust-hash gave no warning: %q", errOut)
	}

	key, err := keyring.Open(t.TempDir()).Add("alice")
	if err != nil {
		t.Fatal(err)
	}
	raw, _, err := n.Client.SignCall(ctx, key, client.CallTx{ChainID: net.ChainID, Contract: "kv", Method: "set",
		Args: []byte(`{"key":"proven","value":"42"}`), GasLimit: 5_000_000, Nonce: 1})
	if err != nil {
		t.Fatal(err)
	}
	h, err := n.Client.Broadcast(ctx, raw)
	if err != nil {
		t.Fatal(err)
	}
	if res, err := n.Client.WaitTx(ctx, h, 60*time.Second); err != nil || res.TxResult.Code != 0 {
		t.Fatalf("set: %v %+v", err, res)
	}

	out, errOut = run(0, homeDir, "kv", "proven")
	if lines := strings.Split(strings.TrimSpace(out), "\n"); len(lines) != 2 || lines[0] != "42" || !strings.HasPrefix(lines[1], "verified at height ") {
		t.Fatalf("query state kv proven --prove printed %q", out)
	}
	if strings.Contains(errOut, "WARNING") {
		t.Fatalf("a home with trusted headers warned again: %q", errOut)
	}
	out, _ = run(0, homeDir, "kv", "missing")
	if !strings.HasPrefix(out, "absent: ") || !strings.Contains(out, "verified at height ") {
		t.Fatalf("absent key printed %q", out)
	}

	for _, c := range []struct{ key, mode string }{
		{"proven", "value"}, {"proven", "op0"}, {"proven", "op1"}, {"proven", "drop"},
		{"missing", "op0"}, {"missing", "op1"},
	} {
		proxy.mode.Store(c.mode)
		before := proxy.changed.Load()
		out, errOut := run(1, homeDir, "kv", c.key)
		if proxy.changed.Load() == before {
			t.Fatalf("%s/%s: the proxy changed nothing", c.key, c.mode)
		}
		if out != "" || !strings.Contains(errOut, "verification failed") {
			t.Fatalf("%s/%s: stdout %q, stderr %q", c.key, c.mode, out, errOut)
		}
		t.Logf("%s, %s changed: %s", c.key, c.mode, strings.TrimSpace(errOut))
	}
	proxy.mode.Store("")

	// Trust given explicitly: a header the test reads from the node (as from a source it trusts).
	one := int64(1)
	commit, err := n.Client.RPC.Commit(ctx, &one)
	if err != nil {
		t.Fatal(err)
	}
	hash := fmt.Sprintf("%X", commit.SignedHeader.Hash())
	out, errOut = run(0, filepath.Join(t.TempDir(), "trusted"), "kv", "proven", "--trust-height", "1", "--trust-hash", hash)
	if !strings.Contains(out, "verified at height ") || strings.Contains(errOut, "WARNING") {
		t.Fatalf("with --trust-hash: stdout %q, stderr %q", out, errOut)
	}
	wrong := []byte(hash)
	if wrong[0] = '0'; hash[0] == '0' {
		wrong[0] = '1'
	}
	_, errOut = run(1, homeDir, "kv", "proven", "--trust-height", "1", "--trust-hash", string(wrong))
	if !strings.Contains(errOut, "verification failed") {
		t.Fatalf("a wrong --trust-hash: %q", errOut)
	}
	// The refused hash left the headers trusted before: no fall back to trusting the node.
	if _, errOut = run(0, homeDir, "kv", "proven"); strings.Contains(errOut, "WARNING") {
		t.Fatalf("after a refused --trust-hash the home trusts the node again: %q", errOut)
	}
}
