package console

import (
	"encoding/json"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	cmtlog "github.com/cometbft/cometbft/libs/log"
)

func TestListenAddr(t *testing.T) {
	for _, c := range []struct{ in, want, err string }{
		{in: "127.0.0.1:26670", want: "127.0.0.1:26670"},
		{in: ":26670", want: "127.0.0.1:26670"},
		{in: "26670", want: "127.0.0.1:26670"},
		{in: "tcp://127.0.0.1:26670", want: "127.0.0.1:26670"},
		{in: "0.0.0.0:26670", want: "0.0.0.0:26670"},
		{in: "[::1]:26670", want: "[::1]:26670"},
		{in: "localhost:", err: "want host:port"},
		{in: "a:b:c", err: "want host:port"},
	} {
		got, err := ListenAddr(c.in)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("ListenAddr(%q) = %q, %v; want error %q", c.in, got, err, c.err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("ListenAddr(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
}

func TestDialRPC(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"tcp://127.0.0.1:26657", "tcp://127.0.0.1:26657"},
		{"tcp://0.0.0.0:26611", "tcp://127.0.0.1:26611"},
		{"tcp://[::]:26611", "tcp://127.0.0.1:26611"},
		{"tcp://10.0.0.2:26657", "tcp://10.0.0.2:26657"},
		{"unix:///tmp/rpc.sock", ""},
	} {
		got, err := DialRPC(c.in)
		if (c.want == "") != (err != nil) || got != c.want {
			t.Errorf("DialRPC(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
}

// TestHandler: the page and its assets are served with a policy that lets the browser
// load nothing from elsewhere; anything but a read is refused; with the node down the
// snapshot still answers, saying why it is empty.
func TestHandler(t *testing.T) {
	h, err := NewHandler("tcp://127.0.0.1:1") // nothing listens on port 1
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		method, path string
		code         int
		has          string
	}{
		{"GET", "/", 200, `<script src="app.js"`},
		{"GET", "/app.js", 200, "api/snapshot"},
		{"GET", "/style.css", 200, "#readiness-fill"},
		{"GET", "/api/snapshot", 200, `"node RPC /status`},
		{"POST", "/api/snapshot", 405, "read-only"},
		{"PUT", "/", 405, "read-only"},
		{"GET", "/nope.js", 404, ""},
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(c.method, c.path, nil))
		if rec.Code != c.code || !strings.Contains(rec.Body.String(), c.has) {
			t.Errorf("%s %s: %d %q, want %d containing %q", c.method, c.path, rec.Code, rec.Body.String(), c.code, c.has)
		}
		if csp := rec.Header().Get("Content-Security-Policy"); c.code != 405 && !strings.HasPrefix(csp, "default-src 'self'") {
			t.Errorf("%s %s: Content-Security-Policy %q", c.method, c.path, csp)
		}
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/api/snapshot", nil))
	var s Snapshot
	if err := json.Unmarshal(rec.Body.Bytes(), &s); err != nil || len(s.Errors) == 0 || s.Blocks == nil {
		t.Fatalf("snapshot of a node that is down: %v %+v", err, s)
	}
	if rec.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("snapshot content type %q", rec.Header().Get("Content-Type"))
	}
}

// TestAssetsSelfContained: the embedded page names no other origin (no CDN, no font or
// script from elsewhere) and never renders chain data as HTML.
func TestAssetsSelfContained(t *testing.T) {
	external := regexp.MustCompile(`(?i)(https?:)?//[a-z0-9.-]+\.[a-z]{2,}|@import|url\(`)
	err := fs.WalkDir(assets, "assets", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(assets, path)
		if err != nil {
			return err
		}
		if m := external.Find(b); m != nil {
			t.Errorf("%s refers to %q: the console must load nothing from elsewhere", path, m)
		}
		if strings.Contains(string(b), "innerHTML") {
			t.Errorf("%s uses innerHTML: chain data (monikers, notes) must go in as text", path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestServeBindsLoopback: a bare port listens on 127.0.0.1 only.
func TestServeBindsLoopback(t *testing.T) {
	ctx := t.Context()
	addr, err := Serve(ctx, ":0", "tcp://0.0.0.0:1", cmtlog.NewNopLogger())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(addr, "127.0.0.1:") {
		t.Fatalf("listening on %s", addr)
	}
	res, err := http.Get("http://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("GET /: %s", res.Status)
	}
}

// TestServePortTaken: a console address already in use stops the start with a clear
// error instead of a node without its console.
func TestServePortTaken(t *testing.T) {
	addr, err := Serve(t.Context(), "127.0.0.1:0", "tcp://127.0.0.1:1", cmtlog.NewNopLogger())
	if err != nil {
		t.Fatal(err)
	}
	_, err = Serve(t.Context(), addr, "tcp://127.0.0.1:1", cmtlog.NewNopLogger())
	if err == nil || !strings.Contains(err.Error(), "console: listen on "+addr) || !strings.Contains(err.Error(), "console.laddr") {
		t.Fatalf("second console on %s: %v", addr, err)
	}
}
