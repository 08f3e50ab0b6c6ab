package node

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"

	cmtlog "github.com/cometbft/cometbft/libs/log"
	"github.com/cometbft/cometbft/libs/service"
)

func TestShutdownFilter(t *testing.T) {
	closed := &net.OpError{Op: "accept", Net: "tcp", Err: net.ErrClosed}
	cases := []struct {
		msg      string
		keyvals  []any
		expected bool // logged at info once stopping
	}{
		{"Error closing switch", []any{"err", service.ErrAlreadyStopped}, true},
		{"Stopped accept routine, as transport is closed", []any{"numPeers", 0}, true},
		{"Error serving server", []any{"err", closed}, true},
		{"Error serving server with TLS", []any{"err", fmt.Errorf("serve: %w", closed)}, true},
		{"Stopping peer for error", []any{"peer", "Peer{...}", "err", closed}, true},
		{"error while stopping peer", []any{"error", service.ErrAlreadyStopped}, true},
		{"Won't start a peer - switch is not running", []any{"peer", "Peer{...}"}, true},
		{"Error stopping pool", []any{"err", service.ErrAlreadyStopped}, true},
		{"Error closing switch", []any{"err", errors.New("disk full")}, false},
		{"Stopping peer for error", []any{"peer", "Peer{...}", "err", errors.New("EOF")}, false},
		{"Error stopping pool", []any{"err", errors.New("timeout")}, false},
		{"Error serving server", []any{"err", errors.New("tls: bad certificate")}, false},
		{"Error closing transport", []any{"err", closed}, false},
		{consensusFailure, []any{"err", "boom"}, false},
	}
	for _, c := range cases {
		t.Run(c.msg, func(t *testing.T) {
			var buf bytes.Buffer
			watch := WatchConsensus(cmtlog.NewTMLogger(&buf))
			f := FilterShutdown(watch)
			log := f.With("module", "p2p") // CometBFT logs through With-derived loggers
			log.Error(c.msg, c.keyvals...)
			if !strings.HasPrefix(buf.String(), "E[") {
				t.Fatalf("before Stopping, logged %q", buf.String())
			}
			buf.Reset()
			f.Stopping()
			log.Error(c.msg, c.keyvals...)
			want := "E["
			if c.expected {
				want = "I["
			}
			if !strings.HasPrefix(buf.String(), want) || !strings.Contains(buf.String(), c.msg) {
				t.Fatalf("after Stopping, logged %q, want a line %s...%s", buf.String(), want, c.msg)
			}
			if c.msg == consensusFailure && watch.Err() == nil {
				t.Fatal("a consensus failure logged through the filter was not reported")
			}
		})
	}
}
