package proposal

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/vchain/vchain/app/tx"
)

var alice, bob, carol = tx.Address{1}, tx.Address{2}, tx.Address{3}

// it is a transaction of 10 bytes named after its sender and nonce, with gas 100.
func it(who tx.Address, nonce uint64) Item {
	return Item{Raw: []byte(fmt.Sprintf("%c%09d", 'a'+who[0]-1, nonce)), Sender: who, Nonce: nonce, Gas: 100}
}

func names(raws [][]byte) []string {
	var s []string
	for _, r := range raws {
		s = append(s, fmt.Sprintf("%c%d", r[0], r[9]-'0'))
	}
	return s
}

func TestBuild(t *testing.T) {
	committed := map[tx.Address]uint64{alice: 0, bob: 4}
	last := func(a tx.Address) (uint64, error) {
		if n, ok := committed[a]; ok {
			return n, nil
		}
		return 0, errors.New("no such account record")
	}
	for _, tc := range []struct {
		name  string
		items []Item
		b     Bounds
		want  []string
	}{
		{"arrival order kept between senders", []Item{it(bob, 5), it(alice, 1), it(bob, 6)}, Bounds{}, []string{"b5", "a1", "b6"}},
		{"a sender's nonces sorted in its own slots", []Item{it(alice, 3), it(bob, 5), it(alice, 1), it(alice, 2)}, Bounds{}, []string{"a1", "b5", "a2", "a3"}},
		{"a gap leaves out the rest of that sender only", []Item{it(alice, 1), it(alice, 3), it(bob, 5)}, Bounds{}, []string{"a1", "b5"}},
		{"a committed nonce is left out", []Item{it(bob, 4), it(bob, 5)}, Bounds{}, []string{"b5"}},
		{"a duplicate nonce is left out", []Item{it(alice, 1), it(alice, 1), it(alice, 2)}, Bounds{}, []string{"a1", "a2"}},
		{"a sender whose nonce cannot be read is left out", []Item{it(carol, 1), it(alice, 1)}, Bounds{}, []string{"a1"}},
		{"the byte bound stops the block", []Item{it(alice, 1), it(bob, 5), it(alice, 2)}, Bounds{MaxBytes: 25}, []string{"a1", "b5"}},
		{"the gas bound stops the block", []Item{it(alice, 1), it(bob, 5), it(alice, 2)}, Bounds{MaxGas: 250}, []string{"a1", "b5"}},
		{"a gas limit that would overflow the sum stops it", []Item{it(alice, 1), {Raw: []byte("b000000005"), Sender: bob, Nonce: 5, Gas: ^uint64(0)}}, Bounds{MaxGas: 1000}, []string{"a1"}},
		{"nothing", nil, Bounds{}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := names(Build(slices.Clone(tc.items), last, tc.b)); !slices.Equal(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}
