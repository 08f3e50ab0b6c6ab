// Package console serves the operators' read-only web console of one node: embedded
// static assets (no CDN, nothing fetched from elsewhere) and /api/snapshot, which gathers
// everything the page shows from the node's own RPC and app queries on the server side,
// so the browser talks to the console only. It has no way to write anything.
package console

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	cmtlog "github.com/cometbft/cometbft/libs/log"

	"github.com/vchain/vchain/internal/client"
)

//go:embed assets
var assets embed.FS

// minInterval bounds how often the node is asked, however many pages poll: a snapshot
// younger than this is served again.
const minInterval = 500 * time.Millisecond

// Handler serves the console of the node whose RPC is at rpcAddr.
type Handler struct {
	mux *http.ServeMux

	mu   sync.Mutex
	col  collector
	last *Snapshot
	at   time.Time
}

// NewHandler returns the console of the node whose RPC is at rpcAddr (for example
// tcp://127.0.0.1:26657).
func NewHandler(rpcAddr string) (*Handler, error) {
	c, err := client.New(rpcAddr)
	if err != nil {
		return nil, err
	}
	h := &Handler{mux: http.NewServeMux(), col: collector{c: c, results: map[int64][]CodeCount{}}}
	static, err := fs.Sub(assets, "assets")
	if err != nil {
		return nil, err
	}
	h.mux.Handle("/", http.FileServerFS(static))
	h.mux.HandleFunc("/api/snapshot", h.snapshot)
	return h, nil
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "the console is read-only", http.StatusMethodNotAllowed)
		return
	}
	// Everything the page loads comes from here; a browser refuses anything else.
	w.Header().Set("Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	h.mux.ServeHTTP(w, r)
}

func (h *Handler) snapshot(w http.ResponseWriter, r *http.Request) {
	s := h.Snapshot(r.Context())
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(s)
}

// Snapshot returns what the page shows now (or at most minInterval ago).
func (h *Handler) Snapshot(ctx context.Context) *Snapshot {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.last != nil && time.Since(h.at) < minInterval {
		return h.last
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	h.last, h.at = h.col.snapshot(ctx), time.Now()
	return h.last
}

// ListenAddr turns console.laddr into a host:port to listen on. A bare port or ":port"
// binds 127.0.0.1: the console is for this machine unless a host is named explicitly.
func ListenAddr(laddr string) (string, error) {
	a := strings.TrimPrefix(strings.TrimSpace(laddr), "tcp://")
	if !strings.Contains(a, ":") {
		a = ":" + a
	}
	host, port, err := net.SplitHostPort(a)
	if err != nil || port == "" {
		return "", fmt.Errorf("console.laddr %q: want host:port, e.g. 127.0.0.1:26670", laddr)
	}
	if host == "" {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port), nil
}

// DialRPC turns CometBFT's rpc.laddr into an address this machine can reach it at: a
// node listening on all interfaces is reached on loopback.
func DialRPC(rpcLaddr string) (string, error) {
	u, err := url.Parse(rpcLaddr)
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("rpc.laddr %q: the console needs a tcp:// RPC address", rpcLaddr)
	}
	host, port, err := net.SplitHostPort(u.Host)
	if err != nil {
		return "", fmt.Errorf("rpc.laddr %q: %w", rpcLaddr, err)
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return "tcp://" + net.JoinHostPort(host, port), nil
}

// Serve serves the console of the node whose RPC listens on rpcLaddr, at laddr, until ctx
// ends. It returns once listening, with the address it listens on; a port taken or an
// address that cannot be bound is an error at once.
func Serve(ctx context.Context, laddr, rpcLaddr string, log cmtlog.Logger) (string, error) {
	addr, err := ListenAddr(laddr)
	if err != nil {
		return "", err
	}
	rpc, err := DialRPC(rpcLaddr)
	if err != nil {
		return "", err
	}
	h, err := NewHandler(rpc)
	if err != nil {
		return "", err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("console: listen on %s: %w (set console.laddr in config/app.toml or --console-laddr)", addr, err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		shut, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(shut)
	}()
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("console stopped", "err", err)
		}
	}()
	return ln.Addr().String(), nil
}
