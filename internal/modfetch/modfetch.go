// Package modfetch downloads a runtime module from other nodes (their /runtime/module
// query, in chunks) and accepts it only if its bytes hash to the sha256 the chain records
// for the release: a peer is never trusted, only the chain is. `vchaind runtime fetch` and
// a node with runtime.auto_fetch share it; neither consensus nor the store is touched here.
package modfetch

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/vchain/vchain/app/executor"
	"github.com/vchain/vchain/app/runtime"
	"github.com/vchain/vchain/internal/client"
)

// MaxChunkSize bounds the chunk size a peer may announce, so a peer cannot make the
// fetcher accept one huge answer (the server side uses executor.ModuleChunkSize).
const MaxChunkSize = 4 << 20

// ChunkTimeout bounds each chunk request, so a peer that stops answering costs seconds,
// not the whole fetch.
var ChunkTimeout = 20 * time.Second

// Logf receives progress lines (one per event, no trailing newline).
type Logf func(format string, args ...any)

// Attempt is one peer tried.
type Attempt struct {
	Peer string `json:"peer"`
	// Err is why the peer's module was not accepted; empty for the peer it came from.
	Err string `json:"error,omitempty"`
}

// String is the attempt in a line: the peer, and why it was passed over.
func (a Attempt) String() string {
	if a.Err == "" {
		return a.Peer + " (served it)"
	}
	return a.Peer + ": " + a.Err
}

// Result is a module fetched and verified.
type Result struct {
	Version    uint64    `json:"version"`
	CodeSHA256 string    `json:"code_sha256"`
	Size       int       `json:"size"`
	From       string    `json:"from"`
	Attempts   []Attempt `json:"attempts"`
	Seconds    float64   `json:"seconds"`
	// Wasm is the module, its sha256 checked against the chain's.
	Wasm []byte `json:"-"`
}

// NoPeerError is a fetch no peer could satisfy; Attempts says why for each.
type NoPeerError struct {
	Version  uint64
	Attempts []Attempt
}

func (e *NoPeerError) Error() string {
	if len(e.Attempts) == 0 {
		return fmt.Sprintf("runtime v%d: no peer to fetch it from", e.Version)
	}
	var why []string
	for _, a := range e.Attempts {
		why = append(why, a.Peer+": "+a.Err)
	}
	return fmt.Sprintf("runtime v%d: none of %d peers served it with the chain's sha256 (%s)", e.Version, len(e.Attempts), strings.Join(why, "; "))
}

// Download fetches version's module from peers (RPC addresses) in order and returns the
// first copy whose bytes hash to want. A peer that lacks the version, does not answer,
// describes its module inconsistently or serves other bytes is logged and the next one is
// tried; if none serves it, the error is a *NoPeerError.
func Download(ctx context.Context, version uint64, want runtime.Hash, peers []string, logf Logf) (*Result, error) {
	start := time.Now()
	res := &Result{Version: version, CodeSHA256: want.String()}
	for _, peer := range peers {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		wasm, err := fromPeer(ctx, peer, version, want, logf)
		if err != nil {
			logf("peer %s: %v; trying the next peer", peer, err)
			res.Attempts = append(res.Attempts, Attempt{Peer: peer, Err: err.Error()})
			continue
		}
		res.Attempts = append(res.Attempts, Attempt{Peer: peer})
		res.From, res.Wasm, res.Size, res.Seconds = peer, wasm, len(wasm), time.Since(start).Seconds()
		logf("peer %s: v%d downloaded and verified (%d bytes, sha256 %s)", peer, version, len(wasm), want)
		return res, nil
	}
	return nil, &NoPeerError{Version: version, Attempts: res.Attempts}
}

// fromPeer downloads version from one peer and checks it against want.
func fromPeer(ctx context.Context, peer string, version uint64, want runtime.Hash, logf Logf) ([]byte, error) {
	c, err := client.New(peer)
	if err != nil {
		return nil, err
	}
	first, err := chunk(ctx, c, version, 0)
	if err != nil {
		return nil, err
	}
	if err := checkHeader(first, version); err != nil {
		return nil, err
	}
	if first.CodeSHA256 != want.String() {
		return nil, fmt.Errorf("it has another module for v%d (sha256 %s; the chain's release is %s)", version, first.CodeSHA256, want)
	}
	logf("peer %s: downloading v%d (%d bytes in %d chunks)", peer, version, first.Size, first.Chunks)
	wasm := make([]byte, 0, first.Size)
	for i := 0; i < first.Chunks; i++ {
		ch := first
		if i > 0 {
			if ch, err = chunk(ctx, c, version, i); err != nil {
				return nil, err
			}
		}
		if ch.Index != i || ch.Size != first.Size || ch.ChunkSize != first.ChunkSize || ch.Chunks != first.Chunks || ch.CodeSHA256 != first.CodeSHA256 {
			return nil, fmt.Errorf("chunk %d describes another file (%s) than chunk 0 (%s)", i, ch, first)
		}
		if wantLen := min(int64(first.ChunkSize), first.Size-int64(i)*int64(first.ChunkSize)); int64(len(ch.Data)) != wantLen {
			return nil, fmt.Errorf("chunk %d has %d bytes, want %d of a %d-byte module in chunks of %d", i, len(ch.Data), wantLen, first.Size, first.ChunkSize)
		}
		wasm = append(wasm, ch.Data...)
	}
	if got := runtime.Hash(sha256.Sum256(wasm)); got != want {
		return nil, fmt.Errorf("WRONG BYTES: it served %d bytes with sha256 %s, the chain's release v%d is %s", len(wasm), got, version, want)
	}
	return wasm, nil
}

// checkHeader refuses an answer whose description of the module cannot be true, before
// any memory is reserved for it.
func checkHeader(c *executor.ModuleChunk, version uint64) error {
	switch {
	case c.Version != version:
		return fmt.Errorf("asked for v%d, it answered v%d", version, c.Version)
	case c.Size <= 0 || c.Size > runtime.MaxModuleBytes:
		return fmt.Errorf("it announces a %d-byte module (a module is 1..%d bytes)", c.Size, runtime.MaxModuleBytes)
	case c.ChunkSize <= 0 || c.ChunkSize > MaxChunkSize:
		return fmt.Errorf("it announces chunks of %d bytes (at most %d)", c.ChunkSize, MaxChunkSize)
	case int64(c.Chunks) != (c.Size+int64(c.ChunkSize)-1)/int64(c.ChunkSize):
		return fmt.Errorf("it announces %d chunks of %d bytes for %d bytes", c.Chunks, c.ChunkSize, c.Size)
	}
	return nil
}

// chunk asks peer c for chunk i of version.
func chunk(ctx context.Context, c *client.Client, version uint64, i int) (*executor.ModuleChunk, error) {
	ctx, cancel := context.WithTimeout(ctx, ChunkTimeout)
	defer cancel()
	res, err := c.Query(ctx, "/runtime/module/"+strconv.FormatUint(version, 10), []byte(strconv.Itoa(i)))
	var qe *client.QueryError
	if errors.As(err, &qe) && qe.Code == executor.QueryNotFound {
		return nil, fmt.Errorf("it does not have v%d", version)
	}
	if err != nil {
		return nil, err
	}
	var ch executor.ModuleChunk
	if err := json.Unmarshal(res.Value, &ch); err != nil {
		return nil, fmt.Errorf("chunk %d: decode answer: %w", i, err)
	}
	return &ch, nil
}

// PeerRPC returns the address to reach a peer's RPC at, from the RPC address it
// advertises (NodeInfo.Other.RPCAddress, its rpc.laddr) and the IP its connection comes
// from: a peer listening on all interfaces (0.0.0.0) is reached at that IP. ok is false for
// an address no other machine can dial (a unix socket, nothing advertised).
func PeerRPC(advertised, remoteIP string) (addr string, ok bool) {
	u, err := url.Parse(advertised)
	if err != nil || u.Host == "" || (u.Scheme != "tcp" && u.Scheme != "http" && u.Scheme != "https") {
		return "", false
	}
	host, port, err := net.SplitHostPort(u.Host)
	if err != nil {
		return "", false
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		if remoteIP == "" {
			return "", false
		}
		host = remoteIP
	}
	return u.Scheme + "://" + net.JoinHostPort(host, port), true
}

// NetInfoPeers returns the RPC addresses of the peers the node at c is connected to (its
// /net_info), in the order it lists them.
func NetInfoPeers(ctx context.Context, c *client.Client) ([]string, error) {
	ni, err := c.RPC.NetInfo(ctx)
	if err != nil {
		return nil, fmt.Errorf("list the peers of the node (/net_info): %w", err)
	}
	var out []string
	for _, p := range ni.Peers {
		if a, ok := PeerRPC(p.NodeInfo.Other.RPCAddress, p.RemoteIP); ok {
			out = append(out, a)
		}
	}
	return out, nil
}
