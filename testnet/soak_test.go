package testnet

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vchain/vchain/app/executor"
	"github.com/vchain/vchain/internal/loadgen"
)

// SoakReport is what TestSoak measured; VCHAIN_SOAK_REPORT names a file to write it to.
type SoakReport struct {
	Seed        int64   `json:"seed"`
	Seconds     float64 `json:"seconds"`
	Validators  int     `json:"validators"`
	Senders     int     `json:"senders"`
	Sent        int     `json:"sent"`
	Committed   int     `json:"committed"`
	Lost        int     `json:"lost"`
	Unconfirmed int     `json:"unconfirmed"`
	// UnconfirmedInChain counts unconfirmed transactions that some node's index shows
	// committed after all; UnconfirmedNotIndexed, those of them the sender's own node
	// does not find by hash.
	UnconfirmedInChain    int     `json:"unconfirmed_in_chain"`
	UnconfirmedNotIndexed int     `json:"unconfirmed_not_indexed_by_own_node"`
	Refused               int     `json:"refused"`
	Unreachable           int     `json:"unreachable"`
	Failed                int     `json:"failed"`
	Kills                 int     `json:"kills"`
	KillsSurvived         int     `json:"kills_survived"`
	RecoveryP50           float64 `json:"recovery_p50_ms"`
	RecoveryP99           float64 `json:"recovery_p99_ms"`
	RecoveryMax           float64 `json:"recovery_max_ms"`
	SwitchHeight          int64   `json:"switch_height"`
	DowngradeHeight       int64   `json:"downgrade_height"`
	FinalHeight           int64   `json:"final_height"`
	// HeightsCompared is how many heights had the same block ID and app hash on every node.
	HeightsCompared int64  `json:"heights_compared"`
	KillLog         []Kill `json:"kill_log"`
}

// soakSettings reads VCHAIN_SOAK_DURATION (default 2m, at most 30m, and shortened to fit
// the test's deadline) and VCHAIN_SOAK_SEED (default: the clock).
func soakSettings(t *testing.T) (time.Duration, int64) {
	d := 2 * time.Minute
	if v := os.Getenv("VCHAIN_SOAK_DURATION"); v != "" {
		var err error
		if d, err = time.ParseDuration(v); err != nil || d <= 0 {
			t.Fatalf("VCHAIN_SOAK_DURATION=%q: want a positive duration such as 3m", v)
		}
	}
	d = min(d, 30*time.Minute)
	if dl, ok := t.Deadline(); ok {
		// Setup, the switches' waits and the final checks take a few minutes more.
		if left := time.Until(dl) - 5*time.Minute; left < d {
			if left < 30*time.Second {
				t.Skipf("the test deadline leaves no time for a soak (-timeout)")
			}
			d = left
		}
	}
	seed := time.Now().UnixNano()
	if v := os.Getenv("VCHAIN_SOAK_SEED"); v != "" {
		var err error
		if seed, err = strconv.ParseInt(v, 10, 64); err != nil {
			t.Fatalf("VCHAIN_SOAK_SEED=%q: %v", v, err)
		}
	}
	return d, seed
}

// TestSoak runs 4 validator processes under load while one random validator at a time is
// killed with SIGKILL and restarted every few seconds, through a scheduled switch to v2
// and a downgrade to v1 (each with a kill held across its height). At the end every
// transaction a node reported committed is in the chain and in every node's state, every
// node reaches the tip, and blocks and app hashes agree at every height. `make soak`.
func TestSoak(t *testing.T) {
	if testing.Short() {
		t.Skip("runs 4 vchaind processes for minutes (make soak)")
	}
	dur, seed := soakSettings(t)
	t.Logf("soak for %s, seed %d (VCHAIN_SOAK_SEED=%d repeats its victims and down times)", dur, seed, seed)
	p := StartProcNet(t, 4, 0)
	p.WaitHeight(t, 2, 60*time.Second, validators4...)

	const senders, batch = 8, 4
	chaos, err := StartChaos(p, validators4, seed, 3*time.Second, 3*time.Second, t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = chaos.Stop() }) // runs before the nodes are stopped
	load, err := StartSoakLoad(p, validators4, senders, batch, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(load.Stop)
	began := time.Now()

	// Admin commands go through node0, whose keyring holds the admin key: Use keeps node0
	// alive while they run (node0 is killed like the others the rest of the time).
	admin := func(args ...string) int64 {
		t.Helper()
		var h int64
		if err := chaos.Use(p.M.AdminHome, false, func() error { h = p.Admin(t, args...); return nil }); err != nil {
			t.Fatal(err)
		}
		return h
	}
	// wait waits until the tip reaches h and at least the fraction at of the soak passed.
	wait := func(h int64, at float64) {
		t.Helper()
		notBefore := began.Add(time.Duration(at * float64(dur)))
		deadline := notBefore.Add(3 * time.Minute)
		lastLog := time.Now()
		for {
			if err := chaos.Err(); err != nil {
				t.Fatal(err)
			}
			tip := chaos.Tip()
			if tip >= h && time.Now().After(notBefore) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("tip %d, want %d: the chain stalled", tip, h)
			}
			if time.Since(lastLog) > 20*time.Second {
				lastLog = time.Now()
				t.Logf("[%3.0fs] tip %d, %d kills, %d transactions committed", time.Since(began).Seconds(), tip, len(chaos.Kills()), load.Acked.Load())
			}
			time.Sleep(200 * time.Millisecond)
		}
	}

	wait(0, 0.15)
	admin("upgrade", "register", "2", "--file", p.Modules["v2"])
	for _, name := range validators4 {
		// A dead node gets the file without attesting (the CLI says so).
		n := p.Node(t, name)
		if err := chaos.Use(name, true, func() error {
			_, err := p.M.Run(p.Bin, n, "runtime", "install", p.Modules["v2"], "--version", "2")
			return err
		}); err != nil {
			t.Fatalf("install v2 on %s: %v", name, err)
		}
	}
	// A node that was dead at its install attests once it is back, as its operator would:
	// two kills can fall within the loop above, and with two of four unattested the
	// schedule is refused. Attesting again what is attested changes nothing.
	for _, name := range validators4 {
		n := p.Node(t, name)
		if err := chaos.Use(name, false, func() error {
			_, err := p.M.Run(p.Bin, n, "runtime", "attest")
			return err
		}); err != nil {
			t.Fatalf("attest on %s: %v", name, err)
		}
	}
	const ahead = 25 // blocks: time for the chaos to finish its current kill first (acrossMargin)
	start := admin("upgrade", "schedule", "2", "--in", strconv.Itoa(ahead)) + ahead
	chaos.KillAcross(start)
	t.Logf("[%3.0fs] switch to v2 scheduled at height %d", time.Since(began).Seconds(), start)
	wait(start+2, 0.55)
	down := admin("upgrade", "schedule", "1", "--in", strconv.Itoa(ahead)) + ahead
	chaos.KillAcross(down)
	t.Logf("[%3.0fs] downgrade to v1 scheduled at height %d", time.Since(began).Seconds(), down)
	wait(down+2, 1)

	kills, err := chaos.Stop()
	if err != nil {
		logKills(t, kills)
		t.Fatalf("kills -9 survived: %d of %d: %v", CountSurvived(kills), len(kills), err)
	}
	load.Stop()
	soakTime := time.Since(began)

	// Every node reaches the tip, and agrees with the others at every height.
	tip := chaos.Tip()
	p.WaitHeight(t, tip, 60*time.Second, validators4...)
	compared := p.CheckConsistency(t, validators4...)
	var hist []executor.HistoryEntry
	for i, name := range validators4 {
		h := p.History(t, name)
		if i == 0 {
			hist = h
		} else if fmt.Sprint(h) != fmt.Sprint(hist) {
			t.Errorf("%s's history %v differs from node0's %v", name, h, hist)
		}
	}
	if len(hist) != 3 || hist[1].Height != start || hist[1].Version != 2 || hist[2].Height != down || hist[2].Version != 1 {
		t.Errorf("history %+v, want v2 from %d and v1 from %d", hist, start, down)
	}
	for _, sw := range []int64{start, down} {
		// The victim's own app had not executed sw when it died (its handshake at the
		// restart says so), and the network had when it was restarted.
		if !slices.ContainsFunc(kills, func(k Kill) bool { return k.AppAtRestart > 0 && k.AppAtRestart < sw && k.RestartedAt > sw }) {
			t.Errorf("no validator was down across the switch at height %d: %+v", sw, kills)
		}
	}

	r := SoakReport{Seed: seed, Seconds: soakTime.Seconds(), Validators: len(validators4), Senders: senders,
		Kills: len(kills), KillsSurvived: CountSurvived(kills), SwitchHeight: start, DowngradeHeight: down,
		FinalHeight: tip, HeightsCompared: compared, KillLog: kills}
	var firstErr string
	for _, s := range load.Senders {
		r.Sent += s.Sent
		r.Committed += len(s.Acked)
		r.Unconfirmed += s.Unconfirmed
		r.Refused += s.Refused
		r.Unreachable += s.Unreachable
		r.Failed += s.Failed
		if firstErr == "" && s.Failed > 0 {
			firstErr = s.FirstError
		}
	}
	lost, problems, err := VerifyAcked(context.Background(), p.Clients(t, validators4...), hist, load.Senders)
	if err != nil {
		t.Fatal(err)
	}
	r.Lost = lost
	r.UnconfirmedInChain, r.UnconfirmedNotIndexed = findUnacked(t, p, load.Senders)
	var rec []time.Duration
	for _, k := range kills {
		rec = append(rec, k.Recovery)
	}
	slices.Sort(rec)
	r.RecoveryP50, r.RecoveryP99 = loadgen.Percentile(rec, 50), loadgen.Percentile(rec, 99)
	r.RecoveryMax = loadgen.Percentile(rec, 100)

	var b strings.Builder
	fmt.Fprintf(&b, "soak summary (seed %d, %s of kills and load)\n", seed, soakTime.Round(time.Second))
	for _, row := range [][2]any{
		{"validators / senders", fmt.Sprintf("%d / %d", r.Validators, r.Senders)},
		{"transactions sent (admitted)", r.Sent},
		{"committed (acknowledged)", r.Committed},
		{"lost (acknowledged, not in chain)", r.Lost},
		{"unconfirmed (not seen in time)", fmt.Sprintf("%d (%d in the chain after all, %d of them not in the sender's node's index)", r.Unconfirmed, r.UnconfirmedInChain, r.UnconfirmedNotIndexed)},
		{"refused by CheckTx / node down", fmt.Sprintf("%d / %d", r.Refused, r.Unreachable)},
		{"committed with an error code", r.Failed},
		{"kills survived (tip, own app hash)", fmt.Sprintf("%d of %d", r.KillsSurvived, r.Kills)},
		{"recovery p50 / p99 / max", fmt.Sprintf("%.0f ms / %.0f ms / %.0f ms", r.RecoveryP50, r.RecoveryP99, r.RecoveryMax)},
		{"switch to v2 / downgrade at", fmt.Sprintf("%d / %d", start, down)},
		{"same block and app hash", fmt.Sprintf("heights 1..%d on all 4 nodes", compared)},
	} {
		fmt.Fprintf(&b, "  %-36s %v\n", row[0], row[1])
	}
	t.Log(b.String())
	if path := os.Getenv("VCHAIN_SOAK_REPORT"); path != "" {
		out, _ := json.MarshalIndent(r, "", "  ")
		if err := os.WriteFile(path, append(out, '\n'), 0o644); err != nil {
			t.Errorf("write the report: %v", err)
		}
	}

	for _, pr := range problems[:min(len(problems), 20)] {
		t.Error(pr)
	}
	if r.Lost != 0 {
		t.Errorf("%d acknowledged transactions are not in the chain", r.Lost)
	}
	if r.UnconfirmedNotIndexed != 0 {
		t.Errorf("%d committed transactions are not found by hash on the node they were sent to (its index lost them in a kill)", r.UnconfirmedNotIndexed)
	}
	if r.Failed != 0 {
		t.Errorf("%d transactions committed with an error code: %s", r.Failed, firstErr)
	}
	if r.KillsSurvived != r.Kills {
		logKills(t, kills)
		t.Errorf("%d of %d kills did not survive", r.Kills-r.KillsSurvived, r.Kills)
	}
	if r.Committed == 0 || r.Kills < 3 {
		t.Errorf("the soak did too little to prove anything: %d committed, %d kills", r.Committed, r.Kills)
	}
}

// TestSoakChaosCountsDeadVictim runs the soak's chaos on 4 validator processes and leaves
// its second victim dead: the first kill survives, the second does not, and the chaos stops
// with an error that names it, so the soak's count of kills survived drops below its kills.
func TestSoakChaosCountsDeadVictim(t *testing.T) {
	if testing.Short() {
		t.Skip("runs 4 vchaind processes")
	}
	p := StartProcNet(t, 4, 0)
	p.WaitHeight(t, 2, 60*time.Second, validators4...)
	chaos, err := startChaos(p, validators4, 1, time.Second, time.Second, t.Logf,
		chaosOptions{recoverWithin: 2 * time.Minute, noRestart: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = chaos.Stop() })
	deadline := time.Now().Add(5 * time.Minute)
	for chaos.Err() == nil {
		if time.Now().After(deadline) {
			t.Fatalf("the chaos did not stop on a victim left dead: %+v", chaos.Kills())
		}
		time.Sleep(200 * time.Millisecond)
	}
	kills, err := chaos.Stop()
	logKills(t, kills)
	if len(kills) != 2 || !kills[0].Survived || kills[1].Survived || CountSurvived(kills) != 1 {
		t.Fatalf("want the first kill survived and the second not; %d of %d survived", CountSurvived(kills), len(kills))
	}
	if err == nil || !strings.Contains(err.Error(), kills[1].Node) || !strings.Contains(kills[1].Verdict, "never seen back at the tip") {
		t.Fatalf("chaos error %v, verdict %q: want the dead victim %s named", err, kills[1].Verdict, kills[1].Node)
	}
	if k := kills[0]; k.AppAtRestart <= 0 || k.AppAtRestart > k.RestartedAt {
		t.Fatalf("the first victim's app was at %d at its restart (network at %d): not read from its handshake", k.AppAtRestart, k.RestartedAt)
	}
	t.Logf("chaos stopped: %v", err)
}

// logKills logs each kill's verdict.
func logKills(t *testing.T, kills []Kill) {
	t.Helper()
	for i, k := range kills {
		t.Logf("kill %d of %s (killed at tip %d, its app at %d): survived %v: %s", i+1, k.Node, k.KilledAt, k.AppAtRestart, k.Survived, k.Verdict)
	}
}

// findUnacked looks up the senders' unconfirmed transactions by hash on every node and
// returns how many are committed after all, and how many of those the sender's own node
// does not find.
func findUnacked(t *testing.T, p *ProcNet, senders []*SoakSender) (inChain, notIndexed int) {
	ctx := context.Background()
	clients := p.Clients(t, validators4...)
	for _, s := range senders {
		for _, h := range s.Unacked {
			own, any := false, false
			var at int64
			for i, c := range clients {
				if res, err := c.RPC.Tx(ctx, h, false); err == nil {
					any, at = true, res.Height
					own = own || validators4[i] == s.Node
				}
			}
			if any && !own {
				t.Logf("unconfirmed tx %X of sender %d is committed at height %d, but %s does not find it by hash", h, s.ID, at, s.Node)
			}
			if any {
				inChain++
				if !own {
					notIndexed++
				}
			}
		}
	}
	return inChain, notIndexed
}
