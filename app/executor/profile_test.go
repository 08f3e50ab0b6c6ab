package executor_test

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/vchain/vchain/app/codes"
	"github.com/vchain/vchain/app/executor"
	"github.com/vchain/vchain/app/profile"
	"github.com/vchain/vchain/internal/testwasm"
	txv1 "github.com/vchain/vchain/proto/vchain/tx/v1"
)

// TestProfileGatesTheSwitch: a release names an execution profile; readiness counts only
// validators that attested both the module and a binary carrying the profile; and a node
// whose binary lacks the profile pauses at the switch, says which vchaind it needs, and
// writes nothing. The profile is one past the newest this test binary knows, so the test
// holds under any build tag.
func TestProfileGatesTheSwitch(t *testing.T) {
	old := executor.PauseInterval
	executor.PauseInterval = 20 * time.Millisecond
	defer func() { executor.PauseInterval = old }()

	c := newChain(t)
	newer := profile.Latest() + 1
	v1, v2 := testwasm.Module(t, "v1"), testwasm.Module(t, "v2")
	if _, err := c.rm.Install(context.Background(), 2, v2); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(v2)
	reg := func(b *txv1.TxBody) {
		b.Msg = &txv1.TxBody_RegisterRelease{RegisterRelease: &txv1.RegisterRelease{Version: 2, CodeSha256: sum[:], Profile: newer}}
	}
	mods := map[uint64][]byte{1: v1, 2: v2}
	// Every validator has the module, but their binaries carry only the known profiles.
	wantCodes(t, c.block(c.tx(admin, reg),
		c.tx(operators[0], attest(0, mods)), c.tx(operators[1], attest(1, mods)), c.tx(operators[2], attest(2, mods))),
		codes.OK, codes.OK, codes.OK, codes.OK)
	res := c.block(c.tx(admin, schedule(2, in(2))))
	wantCodes(t, res, codes.NotReady)
	if log := res.TxResults[0].Log; !strings.Contains(log, fmt.Sprintf("profile %d", newer)) {
		t.Fatalf("refusal does not name the profile: %s", log)
	}
	// Two of four upgrade their binary: still below 2/3.
	wantCodes(t, c.block(c.tx(operators[0], attestProfiles(0, mods, 1, newer)), c.tx(operators[1], attestProfiles(1, mods, 1, newer)),
		c.tx(admin, schedule(2, in(2)))), codes.OK, codes.OK, codes.NotReady)
	// The third makes 3 of 4.
	wantCodes(t, c.block(c.tx(operators[2], attestProfiles(2, mods, 1, newer)), c.tx(admin, schedule(2, in(2)))), codes.OK, codes.OK)

	var st executor.UpgradeStatus
	if err := json.Unmarshal(c.exec.Query("/upgrade/status", nil).Value, &st); err != nil {
		t.Fatal(err)
	}
	if st.Pending == nil || st.Pending.Profile != newer || st.Pending.ProfileKnown || st.Readiness.Profile != newer {
		t.Fatalf("status: pending %+v readiness profile %d", st.Pending, st.Readiness.Profile)
	}
	c.block() // the block before the switch runs as usual

	h := c.store.Height() + 1
	done := make(chan error, 1)
	go func() {
		_, err := c.exec.FinalizeBlock(context.Background(), h, nil)
		done <- err
	}()
	deadline := time.Now().Add(5 * time.Second)
	for c.exec.Paused() == nil && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	p := c.exec.Paused()
	want := fmt.Sprintf("this vchaind knows profiles 1..%d; release v2 needs profile %d: upgrade vchaind", profile.Latest(), newer)
	if p == nil || p.Height != h || p.Profile != newer || p.Reason != want {
		t.Fatalf("paused: %+v, want reason %q", p, want)
	}
	c.exec.Shutdown()
	if err := <-done; !errors.Is(err, executor.ErrShutdown) {
		t.Fatalf("FinalizeBlock after shutdown: %v", err)
	}
	if c.store.Height() != h-1 {
		t.Fatal("a node paused for a profile wrote")
	}
}
