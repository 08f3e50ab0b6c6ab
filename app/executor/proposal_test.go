package executor_test

import (
	"crypto/ed25519"
	"fmt"
	"math/rand"
	"strings"
	"testing"

	"github.com/vchain/vchain/app/executor"
	"github.com/vchain/vchain/app/genesis"
	"github.com/vchain/vchain/internal/testwasm"
	txv1 "github.com/vchain/vchain/proto/vchain/tx/v1"
)

// tamper returns raw with its signature's first byte flipped.
func tamper(t testing.TB, raw []byte) []byte {
	t.Helper()
	var env txv1.Tx
	if err := env.Unmarshal(raw); err != nil {
		t.Fatal(err)
	}
	env.Signature = append([]byte{}, env.Signature...)
	env.Signature[0] ^= 1
	return envelope(t, &env)
}

func gasLimit(g uint64) txOpt { return func(b *txv1.TxBody) { b.GasLimit = g } }

// initChainMaxGas initialises n's chain with module as v1 and block.max_gas maxGas, as
// CometBFT's InitChain hands it over.
func (n *node) initChainMaxGas(module string, initialHeight, maxGas int64) {
	n.t.Helper()
	if _, err := n.exec.InitChain(chainID, initialHeight, appState(n.t, testwasm.Module(n.t, module)), genesisValidators(), maxGas); err != nil {
		n.t.Fatal(err)
	}
}

// TestValidateProposal: a proposal is refused for what no correct proposer includes (a
// transaction failing a stateless check, summed gas limits over block.max_gas) and
// accepted with transactions that only fail against state, which moves under a proposer.
func TestValidateProposal(t *testing.T) {
	// The default signed transaction asks 20,000,000 gas: two fit, three do not.
	n := newNode(t, nil, "", "v1")
	n.initChainMaxGas("v1", 1, 50_000_000)
	n.block(signed(t, admin, 1, "kv", "set", `{"key":"a","value":"1"}`))
	// free is the same chain without a bound (CometBFT's -1).
	free := newNode(t, nil, "", "v1")
	free.initChainMaxGas("v1", 1, executor.NoMaxBlockGas)
	free.block(signed(t, admin, 1, "kv", "set", `{"key":"a","value":"1"}`))

	a, b := key(70), key(71)
	a1 := signed(t, a, 1, "kv", "set", `{"key":"a1","value":"1"}`)
	a2 := signed(t, a, 2, "kv", "set", `{"key":"a2","value":"1"}`)
	b1 := signed(t, b, 1, "kv", "set", `{"key":"b1","value":"1"}`, gasLimit(10_000_000))
	cases := []struct {
		name   string
		txs    [][]byte
		reject string // a part of the refusal, "" to accept
	}{
		{"empty", nil, ""},
		{"all good", [][]byte{a1, a2, b1}, ""},
		{"summed gas at max_gas", [][]byte{a1, a2, signed(t, b, 1, "kv", "set", `{}`, gasLimit(10_000_000))}, ""},
		{"undecodable", [][]byte{a1, []byte("not a transaction"), b1}, "transaction 1 of 3 is invalid"},
		{"empty transaction", [][]byte{{}}, "transaction 0 of 1 is invalid"},
		{"bad signature", [][]byte{a1, tamper(t, a2)}, "transaction 1 of 2 is invalid"},
		{"wrong chain", [][]byte{signed(t, a, 1, "kv", "set", `{}`, func(b *txv1.TxBody) { b.ChainId = "other-chain" })}, "transaction 0 of 1 is invalid"},
		{"gas limit over max_gas_per_tx", [][]byte{signed(t, a, 1, "kv", "set", `{}`, gasLimit(genesis.DefaultMaxGasPerTx+1))}, "transaction 0 of 1 is invalid"},
		{"zero gas limit", [][]byte{signed(t, a, 1, "kv", "set", `{}`, gasLimit(0))}, "transaction 0 of 1 is invalid"},
		{"bad message", [][]byte{signed(t, a, 1, "KV/../x", "set", `{}`)}, "transaction 0 of 1 is invalid"},
		{"summed gas over max_gas", [][]byte{a1, a2, b1, signed(t, b, 2, "kv", "set", `{}`, gasLimit(10_000_001))}, "transaction 3 of 4 takes the summed gas limits over block.max_gas 50000000"},
		// Stateful refusals: FinalizeBlock fails them, the same on every node.
		{"nonce gap", [][]byte{signed(t, a, 5, "kv", "set", `{}`)}, ""},
		{"replayed nonce", [][]byte{signed(t, admin, 1, "kv", "set", `{}`)}, ""},
		{"the same transaction twice", [][]byte{a1, a1}, ""},
		{"nonces out of order", [][]byte{a2, a1}, ""},
		{"unauthorized", [][]byte{signed(t, a, 1, "", "", "", func(b *txv1.TxBody) {
			b.Msg = &txv1.TxBody_ScheduleUpgrade{ScheduleUpgrade: &txv1.ScheduleUpgrade{Version: 1, Activation: &txv1.ScheduleUpgrade_NextBlock{NextBlock: true}}}
		})}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := n.exec.ValidateProposal(tc.txs)
			switch {
			case tc.reject == "" && err != nil:
				t.Fatalf("rejected: %v", err)
			case tc.reject != "" && err == nil:
				t.Fatal("accepted")
			case tc.reject != "" && !strings.Contains(err.Error(), tc.reject):
				t.Fatalf("rejected with %q, want it to say %q", err, tc.reject)
			}
		})
	}

	// Without a bound (CometBFT's -1), only the stateless checks apply.
	if err := free.exec.ValidateProposal([][]byte{a1, a2, b1, signed(t, b, 2, "kv", "set", `{}`, gasLimit(10_000_001))}); err != nil {
		t.Fatalf("max_gas -1: %v", err)
	}
}

// TestOwnProposalsAccepted: whatever the mempool holds (garbage, forged and foreign
// transactions, nonce gaps and replays, gas limits large and small), the block
// PrepareProposal builds is one ValidateProposal accepts, so an honest proposer is never
// refused. The chain moves on between proposals, so committed nonces change under them.
func TestOwnProposalsAccepted(t *testing.T) {
	const maxGas = 25_000_000
	n := newNode(t, nil, "", "v1")
	n.initChainMaxGas("v1", 1, maxGas)
	// free is the same chain without a bound: what it proposes from the same mempool shows
	// whether max_gas cut n's proposal.
	free := newNode(t, nil, "", "v1")
	free.initChainMaxGas("v1", 1, executor.NoMaxBlockGas)
	rng := rand.New(rand.NewSource(1))
	senders := []ed25519.PrivateKey{key(80), key(81), key(82), key(83)}
	var accepted, gasCapped int
	for round := 0; round < 150; round++ {
		var pool [][]byte
		for i := rng.Intn(24); i > 0; i-- {
			s := senders[rng.Intn(len(senders))]
			gas := uint64(1 + rng.Intn(20_000_000))
			if rng.Intn(8) == 0 {
				gas = uint64(rng.Intn(2)) * (genesis.DefaultMaxGasPerTx + 1) // 0 or too much
			}
			raw := signed(t, s, uint64(rng.Intn(12)), "kv", "set", fmt.Sprintf(`{"key":"k%d","value":"v"}`, i), gasLimit(gas))
			switch rng.Intn(10) {
			case 0:
				raw = []byte(fmt.Sprintf("garbage %d", i))
			case 1:
				raw = tamper(t, raw)
			case 2:
				raw = signed(t, s, uint64(rng.Intn(12)), "kv", "set", `{}`, func(b *txv1.TxBody) { b.ChainId = "other-chain" })
			case 3:
				if len(pool) > 0 {
					raw = pool[rng.Intn(len(pool))] // a duplicate
				}
			}
			pool = append(pool, raw)
		}
		maxBytes := int64(0)
		if rng.Intn(3) == 0 {
			maxBytes = int64(rng.Intn(2000))
		}
		prop := n.exec.PrepareProposal(pool, maxBytes)
		if err := n.exec.ValidateProposal(prop); err != nil {
			t.Fatalf("round %d: our own proposal of %d txs (from a mempool of %d) is rejected: %v", round, len(prop), len(pool), err)
		}
		accepted += len(prop)
		if len(free.exec.PrepareProposal(pool, maxBytes)) > len(prop) {
			gasCapped++
		}
		if round%3 == 0 {
			n.block(prop...)
			free.block(prop...)
		}
	}
	// The mempools must have exercised what is checked: proposals with transactions, and
	// proposals that max_gas cut short.
	t.Logf("%d transactions proposed, %d proposals cut by max_gas", accepted, gasCapped)
	if accepted < 50 || gasCapped < 5 {
		t.Fatalf("the random mempools were too tame: %d transactions proposed, %d proposals cut by max_gas", accepted, gasCapped)
	}
}
