package signer

import (
	"strings"
	"testing"

	cmttypes "github.com/cometbft/cometbft/types"
)

// TestStartRefuses: an address that is not tcp://, or no key or chain id, is refused
// before anything dials.
func TestStartRefuses(t *testing.T) {
	pv := cmttypes.NewMockPV()
	for _, tc := range []struct {
		name string
		o    Options
		want string
	}{
		{"unix socket", Options{Addr: "unix:///tmp/pv.sock", ChainID: "c", PV: pv}, "want tcp://"},
		{"bare host:port", Options{Addr: "127.0.0.1:26659", ChainID: "c", PV: pv}, "want tcp://"},
		{"no key", Options{Addr: "tcp://127.0.0.1:26659", ChainID: "c"}, "a validator key and a chain id"},
		{"no chain id", Options{Addr: "tcp://127.0.0.1:26659", PV: pv}, "a validator key and a chain id"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Start(tc.o)
			if err == nil {
				s.Stop()
				t.Fatal("started")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
}
