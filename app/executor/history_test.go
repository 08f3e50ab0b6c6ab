package executor_test

import (
	"testing"

	"github.com/vchain/vchain/app/executor"
	"github.com/vchain/vchain/app/upgrade"
)

func TestVersionAt(t *testing.T) {
	hist := []executor.HistoryEntry{
		{Height: 1, VersionRef: upgrade.VersionRef{Version: 1}},
		{Height: 50, VersionRef: upgrade.VersionRef{Version: 2}},
		{Height: 90, VersionRef: upgrade.VersionRef{Version: 1}},
	}
	for _, c := range []struct {
		h    int64
		want uint64
	}{{0, 0}, {1, 1}, {49, 1}, {50, 2}, {89, 2}, {90, 1}, {1000, 1}} {
		if got := executor.VersionAt(hist, c.h); got != c.want {
			t.Errorf("VersionAt(%d) = %d, want %d", c.h, got, c.want)
		}
	}
}
