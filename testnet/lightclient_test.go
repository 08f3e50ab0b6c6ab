package testnet

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
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

	"github.com/cometbft/cometbft/crypto/merkle"
	cmtcrypto "github.com/cometbft/cometbft/proto/tendermint/crypto"
	ics23 "github.com/cosmos/ics23/go"

	"github.com/vchain/vchain/app/state"
	"github.com/vchain/vchain/internal/client"
	"github.com/vchain/vchain/internal/keyring"
)

// tamperProxy forwards JSON-RPC POSTs to a node's RPC and, depending on its mode, changes
// one byte of abci_query answers: of the value ("value"), of proof op i's data ("op0",
// "op1"), or drops the value ("drop"); or changes the headers' app hash ("header"); or
// forges a consistent answer and headers ("forge", see forge); "" forwards untouched. It
// counts the answers it changed, so a test knows its tampering reached the client.
type tamperProxy struct {
	target  string
	mode    atomic.Value // string
	changed atomic.Int64
	forged  atomic.Value // string: the app hash (hex) "forge" made its proofs prove
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
	// "header" changes the app hash in the headers the light client fetches (commit);
	// "forge" rewrites an answer's value and proof consistently and puts the app hash they
	// prove in every header; every other mode changes abci_query answers.
	_ = json.Unmarshal(body, &req)
	switch {
	case mode == "forge" && req.Method == "abci_query":
		if t, appHash, ok := forge(out); ok {
			out = t
			p.forged.Store(appHash)
			p.changed.Add(1)
		}
	case (mode == "header" || mode == "forge") && req.Method == "commit":
		forged, _ := p.forged.Load().(string)
		if mode == "header" {
			forged = ""
		} else if forged == "" {
			break // nothing forged yet
		}
		if t, ok := tamperHeader(out, forged); ok {
			out = t
			if mode == "header" {
				p.changed.Add(1)
			}
		}
	case mode != "" && mode != "header" && mode != "forge" && req.Method == "abci_query":
		if t, ok := tamper(out, mode); ok {
			out = t
			p.changed.Add(1)
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(resp.StatusCode)
	_, _ = w.Write(out)
}

// tamperHeader sets the app hash in a commit JSON-RPC answer to appHash, or, if empty,
// changes one hex digit of it.
func tamperHeader(raw []byte, appHash string) ([]byte, bool) {
	var m map[string]any
	if json.Unmarshal(raw, &m) != nil {
		return nil, false
	}
	result, _ := m["result"].(map[string]any)
	sh, _ := result["signed_header"].(map[string]any)
	header, _ := sh["header"].(map[string]any)
	h, _ := header["app_hash"].(string)
	if h == "" {
		return nil, false
	}
	b := []byte(h)
	if b[0] = '0'; h[0] == '0' {
		b[0] = '1'
	}
	if appHash != "" {
		b = []byte(appHash)
	}
	header["app_hash"] = string(b)
	out, err := json.Marshal(m)
	return out, err == nil
}

// forge rewrites a membership answer as a node that controls its own state would: the
// value changed, the ICS23 existence proof's value with it, the store's leaf in the
// simple:v op recomputed from the new store root; it returns the app hash the forged
// proof proves. Only the header's signatures can tell it from the truth.
func forge(raw []byte) ([]byte, string, bool) {
	var m map[string]any
	if json.Unmarshal(raw, &m) != nil {
		return nil, "", false
	}
	result, _ := m["result"].(map[string]any)
	response, _ := result["response"].(map[string]any)
	proof, _ := response["proofOps"].(map[string]any)
	ops, _ := proof["ops"].([]any)
	if response == nil || len(ops) != 2 {
		return nil, "", false
	}
	decode := func(v any) []byte {
		s, _ := v.(string)
		b, _ := base64.StdEncoding.DecodeString(s)
		return b
	}
	value := decode(response["value"])
	if len(value) == 0 {
		return nil, "", false
	}
	value[len(value)-1] ^= 0x01
	op0, _ := ops[0].(map[string]any)
	op1, _ := ops[1].(map[string]any)
	cp := &ics23.CommitmentProof{}
	if op0 == nil || op1 == nil || cp.Unmarshal(decode(op0["data"])) != nil || cp.GetExist() == nil {
		return nil, "", false
	}
	cp.GetExist().Value = value
	storeRoot, err := cp.Calculate()
	if err != nil {
		return nil, "", false
	}
	dec, err := merkle.ValueOpDecoder(cmtcrypto.ProofOp{Type: merkle.ProofOpValue, Key: decode(op1["key"]), Data: decode(op1["data"])})
	if err != nil {
		return nil, "", false
	}
	vop := dec.(merkle.ValueOp)
	vh := sha256.Sum256(storeRoot)
	leaf := binary.AppendUvarint(nil, uint64(len(vop.GetKey())))
	leaf = append(leaf, vop.GetKey()...)
	leaf = binary.AppendUvarint(leaf, 32)
	leafHash := sha256.Sum256(append([]byte{0}, append(leaf, vh[:]...)...))
	vop.Proof.LeafHash = leafHash[:]
	appHash, err := vop.Run([][]byte{storeRoot})
	if err != nil {
		return nil, "", false
	}
	data0, err := cp.Marshal()
	if err != nil {
		return nil, "", false
	}
	// The forgery must be one a proof check alone accepts, or the test proves nothing.
	forged := &cmtcrypto.ProofOps{Ops: []cmtcrypto.ProofOp{
		{Type: state.ProofOpIAVL, Key: decode(op0["key"]), Data: data0}, vop.ProofOp()}}
	kp, err := state.KeyPath(decode(op0["key"]))
	if err != nil || state.ProofRuntime().VerifyValue(forged, appHash[0], kp, value) != nil {
		return nil, "", false
	}
	op0["data"] = base64.StdEncoding.EncodeToString(data0)
	op1["data"] = base64.StdEncoding.EncodeToString(vop.ProofOp().Data)
	response["value"] = base64.StdEncoding.EncodeToString(value)
	out, err := json.Marshal(m)
	return out, fmt.Sprintf("%X", appHash[0]), err == nil
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
// by one byte (value, either proof op, or the value dropped to fake an absence), a
// header whose app hash it changes, and a consistent forgery (value, proof and headers'
// app hash rewritten together, which only the validators' signatures expose) are refused
// with "verification failed". Trust given by --trust-height/--trust-hash works
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
		{"missing", "op0"}, {"missing", "op1"}, {"proven", "header"}, {"proven", "forge"},
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
