package upgrade

import (
	"fmt"
	"testing"

	dbm "github.com/cosmos/cosmos-db"

	"github.com/vchain/vchain/app/genesis"
	"github.com/vchain/vchain/app/state"
	statev1 "github.com/vchain/vchain/proto/vchain/state/v1"
)

// TestReadinessThreshold pins the readiness arithmetic: ready exactly when
// attested * den >= num * total, with unequal powers and at the boundary.
func TestReadinessThreshold(t *testing.T) {
	sha := make([]byte, 32)
	other := append(make([]byte, 31), 1)
	cases := []struct {
		powers   []int64
		attested []bool
		th       genesis.Fraction
		ready    bool
	}{
		{[]int64{10, 10, 10}, []bool{true, true, false}, genesis.Fraction{Num: 2, Den: 3}, true}, // exactly 2/3
		{[]int64{10, 10, 11}, []bool{true, true, false}, genesis.Fraction{Num: 2, Den: 3}, false},
		{[]int64{10, 10, 10, 10}, []bool{true, true, false, false}, genesis.Fraction{Num: 2, Den: 3}, false},
		{[]int64{10, 10, 10, 10}, []bool{true, true, true, false}, genesis.Fraction{Num: 2, Den: 3}, true},
		{[]int64{70, 10, 10, 10}, []bool{true, false, false, false}, genesis.Fraction{Num: 2, Den: 3}, true},
		{[]int64{1, 1}, []bool{true, false}, genesis.Fraction{Num: 1, Den: 1}, false},
		{[]int64{1, 1}, []bool{true, true}, genesis.Fraction{Num: 1, Den: 1}, true},
		{[]int64{1 << 60, 1 << 60}, []bool{true, false}, genesis.Fraction{Num: 1, Den: 2}, true}, // no overflow
	}
	for i, tc := range cases {
		st, _ := state.Open(dbm.NewMemDB())
		k := NewKeeper(state.NewCache(st))
		var vals []*statev1.Validator
		for j, p := range tc.powers {
			vals = append(vals, &statev1.Validator{Address: fmt.Sprintf("V%d", j), Power: p})
			h := other
			if tc.attested[j] {
				h = sha
			}
			if err := k.SetAttestation(&statev1.Attestation{Validator: fmt.Sprintf("V%d", j), Versions: []*statev1.RuntimeVersion{{Version: 2, CodeSha256: h}}}); err != nil {
				t.Fatal(err)
			}
		}
		if err := k.SetValidators(vals); err != nil {
			t.Fatal(err)
		}
		r, err := k.Readiness(2, sha, tc.th)
		if err != nil {
			t.Fatal(err)
		}
		if r.Ready != tc.ready {
			t.Errorf("case %d: %d of %d at %s: ready %v, want %v", i, r.AttestedPower, r.TotalPower, tc.th, r.Ready, tc.ready)
		}
	}
}

// TestStartHeight pins claims 2 and 8: "next block" is the block after the containing
// one, and "in N blocks" counts from the containing block.
func TestStartHeight(t *testing.T) {
	for _, tc := range []struct {
		act  string
		want int64
	}{{"next", 11}, {"in1", 11}, {"in3", 13}, {"at50", 50}} {
		got := StartHeight(10, scheduleOf(tc.act))
		if got != tc.want {
			t.Errorf("%s from block 10: %d, want %d", tc.act, got, tc.want)
		}
	}
}
