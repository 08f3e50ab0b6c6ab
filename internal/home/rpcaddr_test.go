package home

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDialAddress(t *testing.T) {
	cases := []struct{ laddr, want, err string }{
		{"tcp://127.0.0.1:26657", "tcp://127.0.0.1:26657", ""},
		{"tcp://0.0.0.0:26611", "tcp://127.0.0.1:26611", ""},
		{"tcp://[::]:26611", "tcp://127.0.0.1:26611", ""},
		{"tcp://:26611", "tcp://127.0.0.1:26611", ""},
		{"tcp://10.0.0.2:26657", "tcp://10.0.0.2:26657", ""},
		{"tcp://[::1]:26657", "tcp://[::1]:26657", ""},
		{"tcp://node1:26611", "tcp://node1:26611", ""},
		{"127.0.0.1:36657", "tcp://127.0.0.1:36657", ""},
		{"unix:///run/vchain/rpc.sock", "unix:///run/vchain/rpc.sock", ""},
		{"tcp://127.0.0.1", "", "want tcp://HOST:PORT"},
		{"http://127.0.0.1:26657", "", "want tcp://HOST:PORT"},
	}
	for _, c := range cases {
		got, err := DialAddress(c.laddr)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("DialAddress(%q) = %q, %v; want an error %q", c.laddr, got, err, c.err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("DialAddress(%q) = %q, %v; want %q", c.laddr, got, err, c.want)
		}
	}
}

func TestRPCAddress(t *testing.T) {
	p := Paths{Root: t.TempDir()}
	if addr, ok, err := p.RPCAddress(); ok || err != nil {
		t.Fatalf("a home without config.toml: %q %v %v, want not ok and no error", addr, ok, err)
	}
	write := func(body string) {
		t.Helper()
		if err := os.MkdirAll(p.Config(), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(p.Config(), "config.toml"), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("moniker = \"x\"\n[rpc]\nladdr = \"tcp://0.0.0.0:36657\"\n[p2p]\nladdr = \"tcp://0.0.0.0:36656\"\n")
	if addr, ok, err := p.RPCAddress(); !ok || err != nil || addr != "tcp://127.0.0.1:36657" {
		t.Fatalf("RPCAddress = %q %v %v, want tcp://127.0.0.1:36657", addr, ok, err)
	}
	write("moniker = \"x\"\n") // the node falls back to CometBFT's default
	if addr, ok, err := p.RPCAddress(); !ok || err != nil || addr != "tcp://127.0.0.1:26657" {
		t.Fatalf("config.toml without rpc.laddr: RPCAddress = %q %v %v, want tcp://127.0.0.1:26657", addr, ok, err)
	}
	for _, bad := range []string{"[rpc]\nladdr = \"\"\n", "[rpc\nladdr = 1", "[rpc]\nladdr = \"tcp://nohost\"\n"} {
		write(bad)
		if addr, ok, err := p.RPCAddress(); err == nil {
			t.Errorf("config %q: RPCAddress = %q %v, want an error", bad, addr, ok)
		}
	}
}
