package executor_test

import (
	"crypto/ed25519"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"

	"github.com/vchain/vchain/app/codes"
	"github.com/vchain/vchain/app/executor"
	"github.com/vchain/vchain/app/profile"
	"github.com/vchain/vchain/app/runtime"
	"github.com/vchain/vchain/internal/testwasm"
	txv1 "github.com/vchain/vchain/proto/vchain/tx/v1"
)

// profileVector pins what one execution profile computes, as go-ethereum's forkid vectors
// pin its forks: the code the engine runs (the v1 and v2 contract modules as the profile's
// instrumentation rewrites them), the gas and code of every transaction of a fixed block
// sequence, and the app hash after it.
type profileVector struct {
	meteredV1, meteredV2 string
	// results are "code/gas" of each transaction of goldenBlocks, in order.
	results []string
	appHash string
}

// profileVectors holds a vector per shipped profile. A failure here means a shipped rule
// changed (a price, a limit, the rewrite) or the contract modules did (their bytes come
// from contracts/ built by this Go toolchain: a toolchain that builds other bytes is a new
// release too). Never edit a shipped profile's vector to make it pass: add a profile.
// Files built with other tags (vchain_profile2) add theirs in init.
var profileVectors = map[uint32]profileVector{
	1: {
		meteredV1: "1f495514c3697d4d8e8bf2af82994dc19ab12c9901fd80e3e2b91ac226501aca",
		meteredV2: "693561bd9de4459366af58982f2c5584892535b64afb4c0b677d1ab4b688b62a",
		results:   []string{"ok/30892", "ok/32853", "ok/76595", "ok/101609", "contract_error/106687", "ok/25828", "ok/26157", "contract_error/73931", "out_of_gas/30000", "contract_error/52272"},
		appHash:   "5bb90ea48932e44240048c747d64edcd2acaed39a6249b1368be9834f111a23a",
	},
}

// goldenBlocks is the fixed block sequence: calls that succeed, fail in the contract, run
// out of gas, and are refused, from several senders, over two blocks.
func goldenBlocks(c *chain) [][][]byte {
	alice, bob := key(21), key(22)
	return [][][]byte{{
		c.call(alice, "kv", "set", `{"key":"a","value":"1"}`),
		c.call(bob, "kv", "set", `{"key":"b","value":"two"}`),
		c.call(alice, "bank", "mint", `{"amount":1000}`),
		c.call(alice, "bank", "transfer", `{"to":"`+addr(bob)+`","amount":250}`),
		c.call(bob, "bank", "transfer", `{"to":"`+addr(alice)+`","amount":999999}`), // insufficient funds
	}, {
		c.call(alice, "kv", "get", `{"key":"b"}`),
		c.call(bob, "kv", "delete", `{"key":"a"}`),
		c.call(alice, "kv", "set", `not json`),
		signedGas(c, bob, 30_000, "kv", "set", `{"key":"c","value":"3"}`), // out of gas
		c.call(alice, "nosuch", "x", ``),
	}}
}

func signedGas(c *chain, priv ed25519.PrivateKey, gas uint64, contract, method, args string) []byte {
	a := addr(priv)
	c.nonces[a]++
	return signed(c.t, priv, c.nonces[a], contract, method, args, func(b *txv1.TxBody) { b.GasLimit = gas })
}

func TestProfileVectors(t *testing.T) {
	v1, v2 := testwasm.Module(t, "v1"), testwasm.Module(t, "v2")
	for _, id := range profile.Supported() {
		t.Run(fmt.Sprintf("profile%d", id), func(t *testing.T) {
			want, ok := profileVectors[id]
			if !ok {
				t.Fatalf("profile %d has no golden vector: pin one before shipping it", id)
			}
			p, err := profile.Get(id)
			if err != nil {
				t.Fatal(err)
			}
			var got profileVector
			for _, m := range []struct {
				wasm []byte
				out  *string
			}{{v1, &got.meteredV1}, {v2, &got.meteredV2}} {
				sum, err := runtime.MeteredSHA256(m.wasm, p)
				if err != nil {
					t.Fatal(err)
				}
				*m.out = sum.String()
			}
			n := newNode(t, nil, "", "v1")
			if _, err := n.exec.InitChain(chainID, 1, appStateProfile(t, v1, id), genesisValidators(), executor.NoMaxBlockGas); err != nil {
				t.Fatal(err)
			}
			c := &chain{node: n, nonces: map[string]uint64{}}
			var hash []byte
			for _, txs := range goldenBlocks(c) {
				res := c.block(txs...)
				for _, r := range res.TxResults {
					got.results = append(got.results, fmt.Sprintf("%s/%d", r.Code, r.GasUsed))
				}
				hash = res.AppHash
			}
			got.appHash = hex.EncodeToString(hash)
			if got.meteredV1 != want.meteredV1 || got.meteredV2 != want.meteredV2 || got.appHash != want.appHash ||
				strings.Join(got.results, " ") != strings.Join(want.results, " ") {
				t.Errorf("profile %d computes\n\tmeteredV1: %q,\n\tmeteredV2: %q,\n\tresults: %#v,\n\tappHash: %q,\nwant %+v",
					id, got.meteredV1, got.meteredV2, got.results, got.appHash, want)
			}
			if !strings.HasPrefix(got.results[0], codes.OK.String()+"/") {
				t.Errorf("the first reference call failed: %s", got.results[0])
			}
		})
	}
}
