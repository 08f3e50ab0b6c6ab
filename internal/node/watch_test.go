package node

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	cmtlog "github.com/cometbft/cometbft/libs/log"
)

func TestFailureWatch(t *testing.T) {
	var buf bytes.Buffer
	f := WatchConsensus(cmtlog.NewTMLogger(&buf))
	cons := f.With("module", "consensus")
	cons.Error("failed to flush", "err", errors.New("disk full"))
	if f.Err() != nil {
		t.Fatal("an ordinary error counted as a consensus failure")
	}
	cons.Error(consensusFailure, "err", "write data/priv_validator_state.json: no space left on device", "stack", "...")
	cons.Error(consensusFailure, "err", "a second one")
	select {
	case <-f.Failed():
	default:
		t.Fatal("the consensus failure was not reported")
	}
	if got := f.Err().Error(); got != "consensus failed: write data/priv_validator_state.json: no space left on device" {
		t.Fatalf("Err() = %q", got)
	}
	if !strings.Contains(buf.String(), "CONSENSUS FAILURE!!!") || !strings.Contains(buf.String(), "module=consensus") {
		t.Fatalf("not logged through: %s", buf.String())
	}
}
