package testnet

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vchain/vchain/internal/localnet"
)

// TestJudgeKill feeds JudgeKill sequences of looks such as the chaos takes after a restart:
// only a victim seen at the tip whose own app hash matches every other validator's at the
// same height survives.
func TestJudgeKill(t *testing.T) {
	others := func(h1, h2, h3 int64) map[string]int64 {
		return map[string]int64{"node1": h1, "node2": h2, "node3": h3}
	}
	same := func(hash string) map[string]string {
		return map[string]string{"node1": hash, "node2": hash, "node3": hash}
	}
	down := KillLook{Others: others(20, 20, 21), Victim: -1}
	behind := KillLook{Others: others(21, 21, 21), Victim: 15}
	atTip := KillLook{Others: others(22, 22, 22), Victim: 22, AppHeight: 22, AppHash: "AA", PeerHashes: same("AA")}
	for _, tc := range []struct {
		name  string
		looks []KillLook
		want  KillVerdict
		why   string
	}{
		{"no look", nil, KillPending, "never seen back"},
		{"never answered", []KillLook{down, down, down}, KillPending, "never seen back at the tip (last height -1"},
		{"stuck behind", []KillLook{down, behind, behind}, KillPending, "last height 15"},
		{"back at the tip, same hash", []KillLook{down, behind, atTip}, KillSurvived, "app hash AA at height 22 as on node1, node2, node3"},
		{"at the tip, a different hash", []KillLook{down, behind,
			{Others: others(22, 22, 22), Victim: 22, AppHeight: 22, AppHash: "AA", PeerHashes: map[string]string{"node1": "AA", "node2": "BB", "node3": "AA"}}},
			KillDiverged, "its app hash at height 22 is AA, node2 computed BB"},
		{"a divergence is not undone by a later match", []KillLook{
			{Others: others(22, 22, 22), Victim: 22, AppHeight: 22, AppHash: "AA", PeerHashes: map[string]string{"node1": "BB"}}, atTip},
			KillDiverged, "node1 computed BB"},
		{"seen high but another was higher (read after it)", []KillLook{
			{Others: others(23, 22, 22), Victim: 22, AppHeight: 22, AppHash: "AA", PeerHashes: same("AA")}}, KillPending, "never seen back"},
		{"at the tip, no hash read", []KillLook{{Others: others(22, 22, 22), Victim: 22}}, KillPending, "never compared"},
		{"at the tip, one peer's hash missing", []KillLook{
			{Others: others(22, 22, 22), Victim: 22, AppHeight: 22, AppHash: "AA", PeerHashes: map[string]string{"node1": "AA", "node3": "AA"}}},
			KillPending, "never compared"},
		{"a peer down does not count against the victim", []KillLook{
			{Others: others(22, -1, 22), Victim: 22, AppHeight: 22, AppHash: "AA", PeerHashes: map[string]string{"node1": "AA", "node3": "AA"}}},
			KillSurvived, "as on node1, node3"},
		{"no other validator answered: no tip", []KillLook{
			{Others: others(-1, -1, -1), Victim: 22, AppHeight: 22, AppHash: "AA", PeerHashes: map[string]string{}}}, KillPending, "never seen back"},
		{"its app far behind its block store", []KillLook{
			{Others: others(22, 22, 22), Victim: 22, AppHeight: 12, AppHash: "AA", PeerHashes: same("AA")}}, KillPending, "never compared"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, why := JudgeKill(tc.looks)
			if got != tc.want || !strings.Contains(why, tc.why) {
				t.Fatalf("JudgeKill = %d %q, want %d and %q", got, why, tc.want, tc.why)
			}
		})
	}
	kills := []Kill{{Survived: true}, {Survived: false}, {Survived: true}}
	if n := CountSurvived(kills); n != 2 {
		t.Fatalf("CountSurvived = %d, want 2", n)
	}
}

// TestHandshakeHeight reads the height of the first handshake after the offset, not an
// earlier start's.
func TestHandshakeHeight(t *testing.T) {
	path := filepath.Join(t.TempDir(), "node.log")
	first := "I[2025-01-01|00:00:00.000] ABCI Handshake App Info                     module=consensus height=7 hash=AB software-version= protocol-version=1\n"
	second := "I[2025-01-01|00:01:00.000] ABCI Handshake App Info                     module=consensus height=41 hash=CD software-version= protocol-version=1\n"
	if err := os.WriteFile(path, []byte(first+"other\n"+second), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		offset int64
		want   int64
	}{{0, 7}, {int64(len(first)), 41}} {
		if h, err := HandshakeHeight(path, tc.offset); err != nil || h != tc.want {
			t.Errorf("HandshakeHeight(offset %d) = %d, %v; want %d", tc.offset, h, err, tc.want)
		}
	}
	if _, err := HandshakeHeight(path, int64(len(first)+len("other\n")+len(second))); err == nil {
		t.Error("no handshake after the offset, and no error")
	}
}

// killedBeforeSwitch is what killBeforeSwitch saw.
type killedBeforeSwitch struct {
	Start   int64  // the switch height
	Version uint64 // the version it switches to
	// SeenBeforeKill is the height the node's own /abci_info gave just before the kill;
	// AppAtRestart, the height its app had committed when it died (its handshake).
	SeenBeforeKill, AppAtRestart int64
	// SwitchedAfterRestart is set when the node logged the switch at Start after its restart.
	SwitchedAfterRestart bool
}

// killBeforeSwitch schedules a switch to version 6 blocks ahead, kills node name with
// SIGKILL as soon as its own app reports the block before the switch committed, keeps it
// down until the others are 2 blocks past the switch, restarts it and waits until every
// validator is 3 past.
func (p *ProcNet) killBeforeSwitch(t *testing.T, name string, version uint64) killedBeforeSwitch {
	t.Helper()
	k := killedBeforeSwitch{Version: version}
	k.Start = p.Admin(t, "upgrade", "schedule", strconv.FormatUint(version, 10), "--in", "6") + 6
	n, c := p.Node(t, name), p.Client(t, name)
	deadline := time.Now().Add(60 * time.Second)
	for k.SeenBeforeKill < k.Start-1 {
		if time.Now().After(deadline) {
			t.Fatalf("%s's app at %d after 60s, want %d", name, k.SeenBeforeKill, k.Start-1)
		}
		time.Sleep(10 * time.Millisecond)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		if h, _, err := AppInfo(ctx, c); err == nil {
			k.SeenBeforeKill = h
		}
		cancel()
	}
	logPath := filepath.Join(p.M.HomeOf(n), localnet.LogFile)
	before := fileSize(logPath)
	if err := p.M.KillNode(n); err != nil {
		t.Fatal(err)
	}
	var others []string
	for _, v := range validators4 {
		if v != name {
			others = append(others, v)
		}
	}
	p.WaitHeight(t, k.Start+2, 60*time.Second, others...)
	p.Start(t, name)
	var err error
	if k.AppAtRestart, err = HandshakeHeight(logPath, before); err != nil {
		t.Fatal(err)
	}
	if k.AppAtRestart < k.SeenBeforeKill {
		t.Fatalf("%s's app had committed %d before the kill, its handshake says %d: a committed block was lost", name, k.SeenBeforeKill, k.AppAtRestart)
	}
	p.WaitHeight(t, k.Start+3, 60*time.Second, validators4...)
	switched := regexp.MustCompile(fmt.Sprintf(`runtime switched\s.*height=%d\s.*version=%d\b`, k.Start, version))
	k.SwitchedAfterRestart = switched.MatchString(readFrom(t, logPath, before))
	return k
}

// checkKilledBeforeSwitch checks, on node name itself, that k's kill landed on the block
// before the switch and that the node then executed the switch like the others: its app
// had committed start-1 when it died, it logged the switch after its restart, its history
// is node0's, and the app hash it computed at the switch height is every other
// validator's.
func (p *ProcNet) checkKilledBeforeSwitch(t *testing.T, name string, k killedBeforeSwitch) {
	t.Helper()
	if k.AppAtRestart != k.Start-1 {
		t.Fatalf("%s's app had committed %d when it died (seen at %d before the kill), want %d, the block before the switch at %d", name, k.AppAtRestart, k.SeenBeforeKill, k.Start-1, k.Start)
	}
	if !k.SwitchedAfterRestart {
		t.Fatalf("%s's log after its restart does not show it switching to v%d at %d", name, k.Version, k.Start)
	}
	hist, hist0 := p.History(t, name), p.History(t, "node0")
	if last := hist[len(hist)-1]; last.Height != k.Start || last.Version != k.Version || fmt.Sprint(hist) != fmt.Sprint(hist0) {
		t.Fatalf("%s's history %+v, node0's %+v: want v%d from %d on both", name, hist, hist0, k.Version, k.Start)
	}
	ctx := context.Background()
	own, err := AppHashAt(ctx, p.Client(t, name), k.Start)
	if err != nil {
		t.Fatal(err)
	}
	for _, other := range validators4 {
		if other == name {
			continue
		}
		if h, err := AppHashAt(ctx, p.Client(t, other), k.Start); err != nil || h != own {
			t.Fatalf("at the switch height %d %s computed app hash %s, %s %s (%v)", k.Start, name, own, other, h, err)
		}
	}
}
