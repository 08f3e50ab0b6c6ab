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
// attested * den >= num * total, with unequal powers and at the boundary, where a validator
// counts only when it attested both the module and a binary carrying the release's profile.
func TestReadinessThreshold(t *testing.T) {
	sha := make([]byte, 32)
	other := append(make([]byte, 31), 1)
	cases := []struct {
		powers   []int64
		attested string // per validator: b both, m the module only, p the profile only, - neither
		th       genesis.Fraction
		ready    bool
	}{
		{[]int64{10, 10, 10}, "bb-", genesis.Fraction{Num: 2, Den: 3}, true}, // exactly 2/3
		{[]int64{10, 10, 11}, "bb-", genesis.Fraction{Num: 2, Den: 3}, false},
		{[]int64{10, 10, 10, 10}, "bb--", genesis.Fraction{Num: 2, Den: 3}, false},
		{[]int64{10, 10, 10, 10}, "bbb-", genesis.Fraction{Num: 2, Den: 3}, true},
		{[]int64{70, 10, 10, 10}, "b---", genesis.Fraction{Num: 2, Den: 3}, true},
		{[]int64{1, 1}, "b-", genesis.Fraction{Num: 1, Den: 1}, false},
		{[]int64{1, 1}, "bb", genesis.Fraction{Num: 1, Den: 1}, true},
		{[]int64{1 << 60, 1 << 60}, "b-", genesis.Fraction{Num: 1, Den: 2}, true}, // no overflow
		// The module without the profile, or the profile without the module, counts nothing.
		{[]int64{10, 10, 10}, "bbm", genesis.Fraction{Num: 1, Den: 1}, false},
		{[]int64{10, 10, 10}, "bbp", genesis.Fraction{Num: 1, Den: 1}, false},
		{[]int64{10, 10, 10}, "mmp", genesis.Fraction{Num: 1, Den: 3}, false},
		{[]int64{10, 10, 10}, "bbb", genesis.Fraction{Num: 1, Den: 1}, true},
	}
	for i, tc := range cases {
		st, _ := state.Open(dbm.NewMemDB())
		k := NewKeeper(state.NewCache(st))
		var vals []*statev1.Validator
		for j, p := range tc.powers {
			vals = append(vals, &statev1.Validator{Address: fmt.Sprintf("V%d", j), Power: p})
			h, profiles := other, []uint32{1}
			switch tc.attested[j] {
			case 'b':
				h, profiles = sha, []uint32{1, 2}
			case 'm':
				h = sha
			case 'p':
				profiles = []uint32{2}
			}
			if err := k.SetAttestation(&statev1.Attestation{Validator: fmt.Sprintf("V%d", j), Versions: []*statev1.RuntimeVersion{{Version: 2, CodeSha256: h}}, Profiles: profiles}); err != nil {
				t.Fatal(err)
			}
		}
		if err := k.SetValidators(vals); err != nil {
			t.Fatal(err)
		}
		r, err := k.Readiness(2, sha, 2, tc.th)
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
