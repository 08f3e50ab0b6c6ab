package client

import (
	"bytes"
	"testing"

	abcitypes "github.com/cometbft/cometbft/abci/types"

	"github.com/vchain/vchain/app/executor"
	txv1 "github.com/vchain/vchain/proto/vchain/tx/v1"
)

// TestRecord: a result's data decodes to the execution record the executor wrote, and the
// runtime version a client reports comes from it (consensus covers it), not from the
// events (which it does not); only a result without a record, a transaction rejected
// before execution, falls back to the event.
func TestRecord(t *testing.T) {
	enc := func(r *txv1.ExecResult) []byte {
		raw, err := r.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		return raw
	}
	event := func(v string) []abcitypes.Event {
		return []abcitypes.Event{{Type: executor.EventTx, Attributes: []abcitypes.EventAttribute{{Key: executor.AttrRuntimeVersion, Value: v}}}}
	}
	cases := []struct {
		name    string
		res     abcitypes.ExecTxResult
		want    *txv1.ExecResult // nil: no record
		version string
	}{
		{"call with data", abcitypes.ExecTxResult{Data: enc(&txv1.ExecResult{RuntimeVersion: 2, Profile: 1, Data: []byte(`{"fee":1}`)}), Events: event("7")},
			&txv1.ExecResult{RuntimeVersion: 2, Profile: 1, Data: []byte(`{"fee":1}`)}, "2"},
		{"lifecycle", abcitypes.ExecTxResult{Data: enc(&txv1.ExecResult{RuntimeVersion: 1, Profile: 3})},
			&txv1.ExecResult{RuntimeVersion: 1, Profile: 3}, "1"},
		{"rejected", abcitypes.ExecTxResult{Code: 1, Events: event("4")}, nil, "4"},
		{"not a record", abcitypes.ExecTxResult{Data: []byte("plain"), Events: event("5")}, nil, "5"},
		{"no version", abcitypes.ExecTxResult{Data: enc(&txv1.ExecResult{Profile: 1, Data: []byte("x")})}, nil, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Record(&tc.res)
			switch {
			case tc.want == nil && err == nil:
				t.Fatalf("decoded %+v from %x, want no record", got, tc.res.Data)
			case tc.want != nil && err != nil:
				t.Fatal(err)
			case tc.want != nil && (got.RuntimeVersion != tc.want.RuntimeVersion || got.Profile != tc.want.Profile || !bytes.Equal(got.Data, tc.want.Data)):
				t.Fatalf("record %+v, want %+v", got, tc.want)
			}
			if v := RuntimeVersion(&tc.res); v != tc.version {
				t.Fatalf("runtime version %q, want %q", v, tc.version)
			}
		})
	}
}
