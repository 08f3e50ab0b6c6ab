package testnet

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	cmttypes "github.com/cometbft/cometbft/types"

	"github.com/vchain/vchain/app/codes"
	"github.com/vchain/vchain/app/tx"
	"github.com/vchain/vchain/internal/client"
	"github.com/vchain/vchain/internal/keyring"
	txv1 "github.com/vchain/vchain/proto/vchain/tx/v1"
)

// validatorAddr is the CometBFT address of a node's consensus key.
func validatorAddr(t testing.TB, p *ProcNet, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(p.M.HomeOf(p.Node(t, name)), "config", "priv_validator_key.json"))
	if err != nil {
		t.Fatal(err)
	}
	var k struct{ Address string }
	if err := json.Unmarshal(b, &k); err != nil {
		t.Fatal(err)
	}
	return strings.ToUpper(k.Address)
}

// TestProcessMembership (issue 13): on real processes under load, a full node is added as
// a validator by transaction and signs from two blocks after the one including it; a
// validator removed keeps running as a full node; after an operator rotation the old
// operator key's attestation is refused; a switch is scheduled and executed across these
// changes, with the same blocks and app hashes on all five processes.
func TestProcessMembership(t *testing.T) {
	if testing.Short() {
		t.Skip("runs vchaind processes")
	}
	ctx := context.Background()
	p := StartProcNet(t, 4, 1)
	p.Start(t, "node4") // a full node
	all := append(append([]string{}, validators4...), "node4")
	p.WaitHeight(t, 2, 60*time.Second, all...)
	load := StartLoad(t, p.M.ChainID, p.Clients(t, validators4...), 3, 150*time.Millisecond)
	rpc := p.Client(t, "node0").RPC
	inSet := func(h int64, addr string) bool {
		t.Helper()
		vals, err := rpc.Validators(ctx, &h, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range vals.Validators {
			if v.Address.String() == addr {
				return true
			}
		}
		return false
	}
	signed := func(h int64, addr string) bool {
		t.Helper()
		c, err := rpc.Commit(ctx, &h)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range c.Commit.Signatures {
			if s.BlockIDFlag == cmttypes.BlockIDFlagCommit && s.ValidatorAddress.String() == addr {
				return true
			}
		}
		return false
	}

	// 1. node4 joins: in CometBFT's set from H+2, and seen signing.
	n4 := p.Node(t, "node4")
	key4 := filepath.Join(p.M.HomeOf(n4), "config", "priv_validator_key.json")
	addr4 := validatorAddr(t, p, "node4")
	h := p.Admin(t, "validator", "add", "--pubkey", key4, "--power", "10", "--operator", n4.Operator, "--moniker", "node4")
	p.WaitHeight(t, h+5, 60*time.Second, "node0", "node1")
	if inSet(h+1, addr4) || !inSet(h+2, addr4) {
		t.Fatalf("node4 added at %d: in the set at %d: %v, at %d: %v; want from %d only", h, h+1, inSet(h+1, addr4), h+2, inSet(h+2, addr4), h+2)
	}
	if signed(h+1, addr4) {
		t.Fatalf("node4 signed block %d, before its update took force", h+1)
	}
	seen := false
	for x := h + 2; x <= h+4 && !seen; x++ {
		seen = signed(x, addr4)
	}
	if !seen {
		t.Fatalf("node4 in the set from %d but signed none of %d..%d", h+2, h+2, h+4)
	}
	// The same key again is refused before sending; sent anyway, the node refuses it, and
	// each other refusal, with its code.
	p.CLI(t, p.M.AdminHome, 1, "validator", "add", "--pubkey", key4, "--power", "1", "--operator", n4.Operator, "--from", "admin")
	var pv struct {
		PubKey struct{ Value []byte } `json:"pub_key"`
	}
	if b, err := os.ReadFile(key4); err != nil || json.Unmarshal(b, &pv) != nil {
		t.Fatalf("read %s: %v", key4, err)
	}
	admin, err := keyring.Open(filepath.Join(p.M.HomeOf(p.Node(t, p.M.AdminHome)), "keyring")).Get("admin")
	if err != nil {
		t.Fatal(err)
	}
	refused := func(name string, from *keyring.Key, msg func(*txv1.TxBody), want codes.Code) {
		t.Helper()
		c := p.Client(t, "node1")
		raw, _, err := c.Sign(ctx, from, "", 0, 100_000, msg)
		if err != nil {
			t.Fatal(err)
		}
		var ce *client.CheckTxError
		if _, err := c.Broadcast(ctx, raw); !errors.As(err, &ce) || ce.Code != want {
			t.Fatalf("%s: %v, want %s", name, err, want)
		}
	}
	add := func(typ string, pub []byte, power int64) func(*txv1.TxBody) {
		return func(b *txv1.TxBody) {
			b.Msg = &txv1.TxBody_AddValidator{AddValidator: &txv1.AddValidator{PubKeyType: typ, PubKey: pub, Power: power, Operator: n4.Operator}}
		}
	}
	fresh := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, 32)).Public().(ed25519.PublicKey)
	secp := append([]byte{2}, make([]byte, 32)...)
	stranger := &keyring.Key{Private: ed25519.NewKeyFromSeed(bytes.Repeat([]byte{8}, 32))}
	stranger.Address = tx.AddressOf(stranger.Private.Public().(ed25519.PublicKey))
	refused("duplicate key", admin, add("ed25519", pv.PubKey.Value, 1), codes.DuplicateValidatorKey)
	refused("unknown validator", admin, func(b *txv1.TxBody) {
		b.Msg = &txv1.TxBody_UpdateValidator{UpdateValidator: &txv1.UpdateValidator{Validator: strings.Repeat("AB", 20), Power: 0}}
	}, codes.UnknownValidator)
	refused("more than a third", admin, add("ed25519", fresh, 17), codes.PowerChangeTooLarge)
	refused("key type", admin, add("secp256k1", secp, 1), codes.KeyTypeNotAllowed)
	refused("power overflow", admin, add("ed25519", fresh, 1<<61), codes.PowerOverflow)
	refused("not an admin", stranger, add("ed25519", fresh, 1), codes.Unauthorized)
	t.Logf("node4 added at %d, signing from %d", h, h+2)

	// 2. node2 leaves; its process goes on as a full node.
	addr2 := validatorAddr(t, p, "node2")
	r := p.Admin(t, "validator", "update", addr2, "--power", "0")
	p.WaitHeight(t, r+4, 60*time.Second, "node0", "node2")
	if !inSet(r+1, addr2) || inSet(r+2, addr2) {
		t.Fatalf("node2 removed at %d: still in the set at %d", r, r+2)
	}

	// 3. node3's operator is rotated to a new key; node3's (old) operator key is refused.
	newOp := tx.AddressOf(ed25519.NewKeyFromSeed(make([]byte, 32)).Public().(ed25519.PublicKey)).String()
	rotated := p.Admin(t, "validator", "rotate-operator", validatorAddr(t, p, "node3"), "--operator", newOp)
	p.WaitHeight(t, rotated+1, 30*time.Second, "node3")

	// 4. A switch across the changes: the set is node0, node1, node3, node4 (40); node0,
	// node1 and node4 attest v2 (30, >= 2/3); node3's attestation, signed by the old key,
	// is refused (exit 3: installed, not attested); node2, a full node, attests nothing.
	p.Admin(t, "upgrade", "register", "2", "--file", p.Modules["v2"])
	for _, name := range []string{"node0", "node1", "node4", "node2"} {
		p.CLI(t, name, 0, "runtime", "install", p.Modules["v2"], "--version", "2")
	}
	p.CLI(t, "node3", 3, "runtime", "install", p.Modules["v2"], "--version", "2")
	scheduled := p.Admin(t, "upgrade", "schedule", "2", "--in", "8")
	start := scheduled + 8
	// node1 checks against its own committed state: once it has stored block scheduled+1,
	// it has committed the schedule.
	p.WaitHeight(t, scheduled+1, 30*time.Second, "node1")
	refused("a pending switch made unready", admin, add("ed25519", fresh, 10), codes.SwitchWouldBeUnready) // 30/50 attested
	p.WaitHeight(t, start+1, 60*time.Second, all...)
	for _, name := range all {
		if hist := p.History(t, name); len(hist) != 2 || hist[1].Height != start || hist[1].Version != 2 {
			t.Fatalf("%s: history %+v, want v2 from %d", name, hist, start)
		}
	}
	var list []struct {
		Address, Operator string
		Power             int64
		Attested          []struct{ Version uint64 }
	}
	if err := json.Unmarshal([]byte(p.CLI(t, "node1", 0, "validator", "list", "-o", "json")), &list); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, v := range list {
		got[v.Address] = fmt.Sprintf("%d %s %d", v.Power, v.Operator, len(v.Attested))
	}
	if len(list) != 4 || got[addr2] != "" || got[addr4] != fmt.Sprintf("10 %s 2", n4.Operator) || !strings.HasPrefix(got[validatorAddr(t, p, "node3")], "10 "+newOp) {
		t.Fatalf("validator list: %v", got)
	}
	lr := load.StopAndCheck(t, p.Client(t, "node0"))
	if lr.Committed == 0 || lr.Failed != 0 {
		t.Fatalf("load: %+v", lr)
	}
	top := p.CheckConsistency(t, all...)
	t.Logf("switch to v2 at %d across the changes; 5 processes agree on blocks and app hashes 1..%d; load %+v", start, top, lr)
}

// TestProcessAdminApprovals drives the admin CLI on a real node: the admin set becomes
// 2 of 2 by set-admins; a direct register is then refused before sending; a proposed one
// waits in `admin proposals` and executes when the second admin approves.
func TestProcessAdminApprovals(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a vchaind process")
	}
	p := StartProcNet(t, 1, 0)
	p.WaitHeight(t, 2, 60*time.Second, "node0")
	var bob struct{ Address string }
	if err := json.Unmarshal([]byte(p.CLI(t, "node0", 0, "keys", "add", "bob", "-o", "json")), &bob); err != nil {
		t.Fatal(err)
	}
	p.Admin(t, "admin", "set-admins", "--admin", p.M.Admin, "--admin", bob.Address, "--threshold", "2")
	p.CLI(t, "node0", 1, "upgrade", "register", "2", "--file", p.Modules["v2"], "--from", "admin")
	p.Admin(t, "admin", "propose", "upgrade", "register", "2", "--file", p.Modules["v2"])
	type proposals struct {
		Threshold uint32 `json:"admin_threshold"`
		Proposals []struct {
			ID     uint64
			Action string
			Status string
		}
	}
	list := func() proposals {
		var out proposals
		if err := json.Unmarshal([]byte(p.CLI(t, "node0", 0, "admin", "proposals", "-o", "json")), &out); err != nil {
			t.Fatal(err)
		}
		return out
	}
	if l := list(); l.Threshold != 2 || len(l.Proposals) != 1 || l.Proposals[0].Status != "waiting" || l.Proposals[0].Action != "register_release" {
		t.Fatalf("after the proposal: %+v", l)
	}
	if len(p.History(t, "node0")) != 1 || strings.Contains(p.CLI(t, "node0", 0, "upgrade", "status"), "v2 ") {
		t.Fatal("v2 registered before the second approval")
	}
	p.CLI(t, "node0", 0, "admin", "approve", "1", "--from", "bob", "-o", "json")
	if l := list(); l.Proposals[0].Status != "executed" {
		t.Fatalf("after the second approval: %+v", l)
	}
	if !strings.Contains(p.CLI(t, "node0", 0, "upgrade", "status"), "v2 ") {
		t.Fatal("v2 not registered after the second approval")
	}
}
