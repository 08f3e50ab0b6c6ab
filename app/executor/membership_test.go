package executor_test

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/json"
	"testing"

	"github.com/vchain/vchain/app/codes"
	"github.com/vchain/vchain/app/executor"
	"github.com/vchain/vchain/app/genesis"
	"github.com/vchain/vchain/app/state"
	"github.com/vchain/vchain/app/tx"
	"github.com/vchain/vchain/app/upgrade"
	"github.com/vchain/vchain/internal/testwasm"
	statev1 "github.com/vchain/vchain/proto/vchain/state/v1"
	txv1 "github.com/vchain/vchain/proto/vchain/tx/v1"
)

// A membership chain's genesis validators have real ed25519 consensus keys, consKey(i),
// power 10 each, operated by operators[i].
func consKey(i int) ed25519.PrivateKey { return key(byte(60 + i)) }

func consPub(i int) []byte { return consKey(i).Public().(ed25519.PublicKey) }

func consAddr(t testing.TB, i int) string {
	a, err := upgrade.ConsensusAddress(upgrade.KeyTypeEd25519, consPub(i))
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// newMemberChain starts a chain of nvals genesis validators with the given admins and
// admin threshold (0: the default) and a proposal expiry of 5 blocks.
func newMemberChain(t *testing.T, nvals int, admins []ed25519.PrivateKey, threshold uint32) *chain {
	t.Helper()
	n := newNode(t, nil, "", "v1")
	var a genesis.AppState
	if err := json.Unmarshal(appState(t, testwasm.Module(t, "v1")), &a); err != nil {
		t.Fatal(err)
	}
	a.Admins, a.Validators = nil, nil
	for _, k := range admins {
		a.Admins = append(a.Admins, addr(k))
	}
	a.AdminThreshold, a.ProposalExpiry = threshold, 5
	var vals []executor.GenesisValidator
	for i := 0; i < nvals; i++ {
		a.Validators = append(a.Validators, genesis.ValidatorOperator{Validator: consAddr(t, i), Operator: addr(operators[i])})
		vals = append(vals, executor.GenesisValidator{Address: consAddr(t, i), Power: 10, PubKeyType: "ed25519", PubKey: consPub(i)})
	}
	raw, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.exec.InitChain(chainID, 1, raw, vals, executor.NoMaxBlockGas); err != nil {
		t.Fatal(err)
	}
	return &chain{node: n, nonces: map[string]uint64{}}
}

func addVal(i int, power int64, op ed25519.PrivateKey) func(*txv1.TxBody) {
	return func(b *txv1.TxBody) {
		b.Msg = &txv1.TxBody_AddValidator{AddValidator: &txv1.AddValidator{PubKeyType: "ed25519", PubKey: consPub(i), Power: power, Operator: addr(op), Moniker: "new"}}
	}
}

func updateVal(address string, power int64) func(*txv1.TxBody) {
	return func(b *txv1.TxBody) {
		b.Msg = &txv1.TxBody_UpdateValidator{UpdateValidator: &txv1.UpdateValidator{Validator: address, Power: power}}
	}
}

func rotateOp(address string, op ed25519.PrivateKey) func(*txv1.TxBody) {
	return func(b *txv1.TxBody) {
		b.Msg = &txv1.TxBody_RotateOperator{RotateOperator: &txv1.RotateOperator{Validator: address, Operator: addr(op)}}
	}
}

// attestAs is an attestation for the validator at address.
func attestAs(address string, versions map[uint64][]byte) func(*txv1.TxBody) {
	return func(b *txv1.TxBody) {
		attest(0, versions)(b)
		b.GetAttestInstall().Validator = address
	}
}

func sets(t *testing.T, c *chain) (latest, active []*statev1.Validator) {
	t.Helper()
	k := upgrade.NewKeeper(state.NewCache(c.store))
	latest, err := k.Validators()
	if err != nil {
		t.Fatal(err)
	}
	if active, err = k.ActiveValidators(); err != nil {
		t.Fatal(err)
	}
	return latest, active
}

func powerOf(vs []*statev1.Validator, address string) int64 {
	for _, v := range vs {
		if v.Address == address {
			return v.Power
		}
	}
	return -1
}

// TestValidatorRefusals: every refusal of a membership change, by CheckTx and by a block,
// with its own code; a refused change records nothing.
func TestValidatorRefusals(t *testing.T) {
	c := newMemberChain(t, 4, []ed25519.PrivateKey{admin}, 0)
	stranger := key(40)
	v0 := consAddr(t, 0)
	secp := make([]byte, 33)
	secp[0] = 2
	for _, tc := range []struct {
		name string
		from ed25519.PrivateKey
		msg  func(*txv1.TxBody)
		want codes.Code
	}{
		{"add by a non-admin", stranger, addVal(5, 10, key(30)), codes.Unauthorized},
		{"update by a non-admin", stranger, updateVal(v0, 5), codes.Unauthorized},
		{"rotate by a non-admin", operators[0], rotateOp(v0, key(30)), codes.Unauthorized},
		{"a key already in the set", admin, addVal(1, 5, key(30)), codes.DuplicateValidatorKey},
		{"update a validator not in the set", admin, updateVal(consAddr(t, 7), 5), codes.UnknownValidator},
		{"remove a validator not in the set", admin, updateVal(consAddr(t, 7), 0), codes.UnknownValidator},
		{"rotate a validator not in the set", admin, rotateOp(consAddr(t, 7), key(30)), codes.UnknownValidator},
		{"add more than a third of the power", admin, addVal(5, 14, key(30)), codes.PowerChangeTooLarge},
		{"raise a power by more than a third", admin, updateVal(v0, 24), codes.PowerChangeTooLarge},
		{"a key type the consensus params do not allow", admin, func(b *txv1.TxBody) {
			b.Msg = &txv1.TxBody_AddValidator{AddValidator: &txv1.AddValidator{PubKeyType: "secp256k1", PubKey: secp, Power: 1, Operator: addr(key(30))}}
		}, codes.KeyTypeNotAllowed},
		{"a power over CometBFT's maximum", admin, addVal(5, upgrade.MaxTotalVotingPower+1, key(30)), codes.PowerOverflow},
		{"an update over CometBFT's maximum", admin, updateVal(v0, upgrade.MaxTotalVotingPower+1), codes.PowerOverflow},
	} {
		refusedBoth(t, c.node, tc.name, c.tx(tc.from, tc.msg), tc.want)
	}
	if latest, active := sets(t, c); len(latest) != 4 || len(active) != 4 || powerOf(latest, v0) != 10 {
		t.Fatalf("refused changes were recorded: latest %v, active %v", latest, active)
	}

	// At the limit: a third of the power is accepted; one more in the same window is not,
	// nor a second add of the same key within the block.
	r := c.block(c.tx(admin, addVal(5, 13, key(30))), c.tx(admin, addVal(5, 1, key(31))), c.tx(admin, addVal(6, 1, key(31))))
	wantCodes(t, r, codes.OK, codes.DuplicateValidatorKey, codes.PowerChangeTooLarge)
	// The window is the changes not yet in force: the next block still counts the add.
	wantCodes(t, c.block(c.tx(admin, addVal(6, 1, key(31)))), codes.PowerChangeTooLarge)
	c.block()
	wantCodes(t, c.block(c.tx(admin, addVal(6, 1, key(31)))), codes.OK) // the add took force

	// A set of one: removing it would empty the set.
	one := newMemberChain(t, 1, []ed25519.PrivateKey{admin}, 0)
	refusedBoth(t, one.node, "remove the last validator", one.tx(admin, updateVal(consAddr(t, 0), 0)), codes.EmptyValidatorSet)
}

// TestValidatorUpdateTiming: an update returned at H is in the app's active set from H+2,
// as CometBFT applies it; several changes of one validator in a block give one update with
// the final power, and a validator added and removed in one block gives none.
func TestValidatorUpdateTiming(t *testing.T) {
	c := newMemberChain(t, 4, []ed25519.PrivateKey{admin}, 0)
	c.block()
	v5 := consAddr(t, 5)
	r := c.block(c.tx(admin, addVal(5, 3, key(30))), c.tx(admin, updateVal(v5, 5)))
	wantCodes(t, r, codes.OK, codes.OK)
	h := c.store.Height()
	if len(r.ValidatorUpdates) != 1 || r.ValidatorUpdates[0].Address != v5 || r.ValidatorUpdates[0].Power != 5 ||
		string(r.ValidatorUpdates[0].PubKey) != string(consPub(5)) {
		t.Fatalf("block %d: validator updates %v, want one: %s power 5", h, r.ValidatorUpdates, v5)
	}
	latest, active := sets(t, c)
	if powerOf(latest, v5) != 5 || powerOf(active, v5) != -1 {
		t.Fatalf("after H: latest %d, active %d; want 5 and absent", powerOf(latest, v5), powerOf(active, v5))
	}
	if r := c.block(); len(r.ValidatorUpdates) != 0 {
		t.Fatalf("H+1 returned updates %v", r.ValidatorUpdates)
	}
	if _, active := sets(t, c); powerOf(active, v5) != -1 {
		t.Fatalf("at H+1 the new validator is active already")
	}
	c.block()
	if _, active := sets(t, c); powerOf(active, v5) != 5 {
		t.Fatalf("at H+2 the new validator is not active: %v", active)
	}
	// The record of H's changes is gone once they took force: nothing waits.
	waiting := 0
	if err := c.store.Iterate([]byte("upgrade/valupdates/"), func(_, _ []byte) bool { waiting++; return true }); err != nil || waiting != 0 {
		t.Fatalf("%d change records left after they took force (%v)", waiting, err)
	}

	// Added and removed in one block: CometBFT never hears of it.
	r = c.block(c.tx(admin, addVal(6, 1, key(31))), c.tx(admin, updateVal(consAddr(t, 6), 0)))
	wantCodes(t, r, codes.OK, codes.OK)
	if len(r.ValidatorUpdates) != 0 {
		t.Fatalf("add and remove in one block returned %v", r.ValidatorUpdates)
	}
	// A removal: power 0 for the known key, and out of the active set at H+2.
	v0 := consAddr(t, 0)
	r = c.block(c.tx(admin, updateVal(v0, 0)))
	wantCodes(t, r, codes.OK)
	if len(r.ValidatorUpdates) != 1 || r.ValidatorUpdates[0].Power != 0 || string(r.ValidatorUpdates[0].PubKey) != string(consPub(0)) {
		t.Fatalf("removal returned %v", r.ValidatorUpdates)
	}
	c.block()
	if _, active := sets(t, c); powerOf(active, v0) != 10 {
		t.Fatalf("removed validator left the active set before H+2")
	}
	c.block()
	if _, active := sets(t, c); powerOf(active, v0) != -1 {
		t.Fatalf("removed validator still active at H+2")
	}
}

// TestReadinessFollowsTheSet: readiness counts the set that signs the start height; a new
// validator counts only once it attests; a removed validator's attestation stops counting;
// a change that would make the pending switch unready is refused; after a rotation the old
// operator's attestations are refused.
func TestReadinessFollowsTheSet(t *testing.T) {
	c := newMemberChain(t, 4, []ed25519.PrivateKey{admin}, 0)
	v1, v2 := testwasm.Module(t, "v1"), testwasm.Module(t, "v2")
	both := map[uint64][]byte{1: v1, 2: v2}
	txs := [][]byte{c.tx(admin, register(2, v2))}
	for i := 0; i < 3; i++ {
		txs = append(txs, c.tx(operators[i], attestAs(consAddr(t, i), both)))
	}
	wantCodes(t, c.block(txs...), codes.OK, codes.OK, codes.OK, codes.OK) // 30 of 40 attested

	// Adding an unattested validator at H: a switch at H+1 is still signed by the four
	// (ready, 30/40); one at H+2 would be signed by five with 30/50 (not ready).
	// (The accepted schedule is cancelled in the same block: this node has no v2 to run.)
	r := c.block(c.tx(admin, addVal(5, 10, key(30))), c.tx(admin, schedule(2, in(2))), c.tx(admin, schedule(2, nextBlock)), c.tx(admin, cancelMsg))
	wantCodes(t, r, codes.OK, codes.NotReady, codes.OK, codes.OK)
	c.block()

	// The new validator attests: now its power counts.
	k := upgrade.NewKeeper(state.NewCache(c.store))
	if rd, _ := k.Readiness(2, sha(v2), 1, genesis.DefaultInstallThreshold); rd.Ready || rd.AttestedPower != 30 || rd.TotalPower != 50 {
		t.Fatalf("before the new validator attests: %d of %d, ready %v", rd.AttestedPower, rd.TotalPower, rd.Ready)
	}
	wantCodes(t, c.block(c.tx(key(30), attestAs(consAddr(t, 5), both))), codes.OK)
	k = upgrade.NewKeeper(state.NewCache(c.store))
	if rd, _ := k.Readiness(2, sha(v2), 1, genesis.DefaultInstallThreshold); !rd.Ready || rd.AttestedPower != 40 {
		t.Fatalf("after the new validator attests: %d of %d, ready %v", rd.AttestedPower, rd.TotalPower, rd.Ready)
	}

	// A pending switch far ahead (40 of 50 attested). Adding an unattested validator of
	// power 16 would leave 40/66 < 2/3: refused.
	h := c.store.Height()
	wantCodes(t, c.block(c.tx(admin, schedule(2, at(h+50)))), codes.OK)
	refusedBoth(t, c.node, "an add that would make the pending switch unready", c.tx(admin, addVal(6, 16, key(31))), codes.SwitchWouldBeUnready)
	// Removing an attested validator: its attestation stops counting. 0 leaves: 30/40 ready.
	wantCodes(t, c.block(c.tx(admin, updateVal(consAddr(t, 0), 0))), codes.OK)
	c.block()
	c.block()
	k = upgrade.NewKeeper(state.NewCache(c.store))
	if rd, _ := k.Readiness(2, sha(v2), 1, genesis.DefaultInstallThreshold); rd.AttestedPower != 30 || rd.TotalPower != 40 {
		t.Fatalf("after removing an attested validator: %d of %d", rd.AttestedPower, rd.TotalPower)
	}
	// Removing attested validator 1 leaves 20/30, exactly the threshold: accepted.
	// Removing attested validator 2 after it would leave 10/20: refused.
	wantCodes(t, c.block(c.tx(admin, updateVal(consAddr(t, 1), 0))), codes.OK)
	c.block()
	c.block()
	refusedBoth(t, c.node, "a removal that would make the pending switch unready", c.tx(admin, updateVal(consAddr(t, 2), 0)), codes.SwitchWouldBeUnready)
	// A removed validator cannot attest any more.
	refusedBoth(t, c.node, "attestation of a removed validator", c.tx(operators[0], attestAs(consAddr(t, 0), both)), codes.UnknownValidator)

	// Rotation: the old operator is refused at once, the new one accepted.
	v2addr := consAddr(t, 2)
	wantCodes(t, c.block(c.tx(admin, rotateOp(v2addr, key(32)))), codes.OK)
	refusedBoth(t, c.node, "attestation by the rotated-out operator", c.tx(operators[2], attestAs(v2addr, both)), codes.Unauthorized)
	wantCodes(t, c.block(c.tx(key(32), attestAs(v2addr, both))), codes.OK)
}

func sha(b []byte) []byte {
	s := sha256.Sum256(b)
	return s[:]
}

func propose(set func(*txv1.TxBody)) func(*txv1.TxBody) {
	return func(b *txv1.TxBody) {
		set(b)
		b.Msg = &txv1.TxBody_Propose{Propose: &txv1.Propose{Action: tx.BodyAction(b)}}
	}
}

func approve(id uint64) func(*txv1.TxBody) {
	return func(b *txv1.TxBody) { b.Msg = &txv1.TxBody_Approve{Approve: &txv1.Approve{Id: id}} }
}

// TestAdminApprovals: with 2 of 3 admins, a direct admin action is refused; a proposed
// register or schedule does not execute until a second admin approves it, and then does in
// that block (readiness checked then); an expired proposal never executes; approving twice,
// an unknown proposal, or a proposal by a non-admin is refused; the admin set itself
// changes through the same approval.
func TestAdminApprovals(t *testing.T) {
	a, b, cc := key(50), key(51), key(52)
	c := newMemberChain(t, 4, []ed25519.PrivateKey{a, b, cc}, 2)
	v1, v2 := testwasm.Module(t, "v1"), testwasm.Module(t, "v2")
	both := map[uint64][]byte{1: v1, 2: v2}
	pending := func() *statev1.PendingSwitch {
		p, err := upgrade.NewKeeper(state.NewCache(c.store)).Pending()
		if err != nil {
			t.Fatal(err)
		}
		return p
	}

	refusedBoth(t, c.node, "a direct register", c.tx(a, register(2, v2)), codes.NeedsApproval)
	refusedBoth(t, c.node, "a proposal by a non-admin", c.tx(admin, propose(register(2, v2))), codes.Unauthorized)
	refusedBoth(t, c.node, "approving no proposal", c.tx(b, approve(9)), codes.UnknownProposal)

	// 1: register v2. Proposed: nothing registered; approved by b: registered.
	r := c.block(c.tx(a, propose(register(2, v2))))
	wantCodes(t, r, codes.OK)
	if hasEvent(r.TxResults[0].Events, upgrade.EventReleaseRegistered) {
		t.Fatal("a proposal with one approval of two executed")
	}
	refusedBoth(t, c.node, "approving one's own proposal again", c.tx(a, approve(1)), codes.AlreadyApproved)
	r = c.block(c.tx(b, approve(1)))
	wantCodes(t, r, codes.OK)
	if !hasEvent(r.TxResults[0].Events, upgrade.EventReleaseRegistered) || !hasEvent(r.TxResults[0].Events, upgrade.EventProposalExecuted) {
		t.Fatalf("second approval did not execute: %v", r.TxResults[0].Events)
	}
	refusedBoth(t, c.node, "approving an executed proposal", c.tx(cc, approve(1)), codes.UnknownProposal)

	// 2: schedule v2. Approved before enough validators attest: refused at execution, not
	// recorded; approved again once they have: pending.
	wantCodes(t, c.block(c.tx(a, propose(schedule(2, in(20))))), codes.OK)
	if pending() != nil {
		t.Fatal("a proposed schedule with one approval is pending")
	}
	wantCodes(t, c.block(c.tx(b, approve(2))), codes.NotReady)
	if pending() != nil {
		t.Fatal("a schedule refused at execution is pending")
	}
	var txs [][]byte
	for i := 0; i < 3; i++ {
		txs = append(txs, c.tx(operators[i], attestAs(consAddr(t, i), both)))
	}
	wantCodes(t, c.block(txs...), codes.OK, codes.OK, codes.OK)
	wantCodes(t, c.block(c.tx(b, approve(2))), codes.OK)
	if p := pending(); p == nil || p.Version != 2 {
		t.Fatalf("approved schedule not pending: %v", p)
	}

	// 3: cancel, proposed and left to expire (expiry 5 blocks): never executes.
	wantCodes(t, c.block(c.tx(a, propose(cancelMsg))), codes.OK)
	for i := 0; i < 5; i++ {
		c.block()
	}
	refusedBoth(t, c.node, "approving an expired proposal", c.tx(b, approve(3)), codes.ProposalExpired)
	if pending() == nil {
		t.Fatal("an expired cancel executed")
	}

	// 4: the admin set changes by the same approval: a and b, threshold 1. Then a acts alone.
	setAdmins := func(body *txv1.TxBody) {
		body.Msg = &txv1.TxBody_SetAdmins{SetAdmins: &txv1.SetAdmins{Admins: []string{addr(a), addr(b)}, Threshold: 1}}
	}
	wantCodes(t, c.block(c.tx(cc, propose(setAdmins))), codes.OK)
	wantCodes(t, c.block(c.tx(a, approve(4))), codes.OK)
	refusedBoth(t, c.node, "a removed admin proposes", c.tx(cc, propose(cancelMsg)), codes.Unauthorized)
	wantCodes(t, c.block(c.tx(a, cancelMsg)), codes.OK)
	if pending() != nil {
		t.Fatal("cancel by a lone admin after the threshold fell to 1 did not execute")
	}
}
