package testnet

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/vchain/vchain/internal/localnet"
)

// chromiumPath is Debian's chromium (the package .ci/run installs).
const chromiumPath = "/usr/bin/chromium"

// findChromium returns the browser the console test drives. Under CI=true a missing
// browser fails the test: CI installs it, so its absence is a broken machine, not a skip.
func findChromium(t *testing.T) string {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err == nil {
		return chromiumPath
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("CI=true and no Chromium at %s: install Debian's chromium package (.ci/run does)", chromiumPath)
	}
	t.Skipf("no Chromium at %s: `apt-get install chromium` to run the console's browser test", chromiumPath)
	return ""
}

// browserPage is one tab of the headless browser, showing one node's console.
type browserPage struct {
	t    *testing.T
	ctx  context.Context
	name string
	dir  string // where screenshots go
}

// eval runs js in the page and decodes its value.
func eval[T any](p browserPage, js string) T {
	p.t.Helper()
	v, err := chromedp.Run(p.ctx, chromedp.Evaluate[T](js))
	if err != nil {
		p.t.Fatalf("%s console: evaluate %s: %v", p.name, js, err)
	}
	return v
}

// text returns the text of the element with id.
func (p browserPage) text(id string) string {
	return eval[string](p, fmt.Sprintf(`document.getElementById(%q).textContent`, id))
}

// visible says whether the element with id is shown.
func (p browserPage) visible(id string) bool {
	return eval[bool](p, fmt.Sprintf(`!document.getElementById(%q).hidden`, id))
}

// waitFor polls cond (which reads the page) until it holds.
func (p browserPage) waitFor(what string, timeout time.Duration, cond func() bool) {
	p.t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			p.screenshot("timeout")
			p.t.Fatalf("%s console: %s: not after %s (live: %q, errors: %q)", p.name, what, timeout, p.text("live"), p.text("errors"))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// screenshot saves the whole page as dir/<node>-<step>.png and returns its path.
func (p browserPage) screenshot(step string) string {
	p.t.Helper()
	png, err := chromedp.Run(p.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		p.t.Fatalf("screenshot: %v", err)
	}
	path := filepath.Join(p.dir, p.name+"-"+step+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		p.t.Fatal(err)
	}
	p.t.Logf("screenshot %s (%d bytes)", path, len(png))
	return path
}

// openConsole opens a new tab of browser on node n's console and waits for its first
// snapshot.
func openConsole(t *testing.T, browser context.Context, n localnet.Node, dir string) browserPage {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browser)
	t.Cleanup(cancel)
	if n.ConsoleURL() == "" {
		t.Fatalf("%s has no console port in testnet.json", n.Name)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(n.ConsoleURL())); err != nil {
		t.Fatalf("open %s: %v", n.ConsoleURL(), err)
	}
	p := browserPage{t: t, ctx: ctx, name: n.Name, dir: dir}
	p.waitFor("a first snapshot", 30*time.Second, func() bool {
		return eval[string](p, `document.body.dataset.polls || ""`) != ""
	})
	return p
}

// TestProcessConsole drives the web console of a live 4-validator process testnet with a
// real headless Chromium: the validators and readiness, a scheduled switch counted down to
// its height and then shown in the timeline, a block's failed transaction by code, and a
// node that lacks the new version shown as paused with the command that resumes it.
func TestProcessConsole(t *testing.T) {
	if testing.Short() {
		t.Skip("runs vchaind processes and a browser")
	}
	chromium := findChromium(t)
	shots := t.TempDir()
	if dir := os.Getenv("VCHAIN_SCREENSHOTS"); dir != "" { // to refresh docs/console.png
		shots = dir
	}
	p := StartProcNet(t, 4, 0)
	p.WaitHeight(t, 2, 60*time.Second, validators4...)

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium), chromedp.NoSandbox, chromedp.Headless,
		chromedp.Flag("disable-dev-shm-usage", true), chromedp.WindowSize(1280, 900))
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	browser, cancelBrowser := chromedp.NewContext(alloc)
	t.Cleanup(cancelBrowser)

	c0 := openConsole(t, browser, p.Node(t, "node0"), shots)
	// The validators table: the four monikers, each with its power from CometBFT.
	c0.waitFor("4 validators listed", 30*time.Second, func() bool {
		return eval[int](c0, `document.querySelectorAll("#validators tbody tr").length`) == 4
	})
	vals, err := p.Client(t, "node0").RPC.Validators(context.Background(), nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	rows := eval[[][]string](c0, `[...document.querySelectorAll("#validators tbody tr")].map(r => [...r.cells].map(c => c.textContent))`)
	var monikers []string
	for _, r := range rows {
		monikers = append(monikers, r[0])
		if r[3] != strconv.FormatInt(vals.Validators[0].VotingPower, 10) {
			t.Fatalf("validator row %q: want power %d", r, vals.Validators[0].VotingPower)
		}
	}
	slices.Sort(monikers)
	if !slices.Equal(monikers, validators4) {
		t.Fatalf("validators listed: %v", monikers)
	}
	if c0.visible("pending") || !c0.visible("no-pending") || c0.visible("paused") {
		t.Fatal("a fresh chain shows a pending switch or a pause")
	}
	if got := c0.text("state"); got != "running" {
		t.Fatalf("node0 state %q", got)
	}

	// Readiness of v2 as validators install it: node3 never does.
	p.Admin(t, "upgrade", "register", "2", "--file", p.Modules["v2"])
	for _, name := range validators4[:3] {
		p.CLI(t, name, 0, "runtime", "install", p.Modules["v2"], "--version", "2")
	}
	st, err := p.Client(t, "node0").UpgradeStatus(context.Background(), 2)
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("%d/%d power attested", st.Readiness.AttestedPower, st.Readiness.TotalPower)
	if st.Readiness.AttestedPower != 3*st.Readiness.TotalPower/4 || !st.Readiness.Ready {
		t.Fatalf("readiness after 3 installs: %+v", st.Readiness)
	}
	c0.waitFor("readiness "+want, 30*time.Second, func() bool {
		return c0.visible("readiness") && strings.Contains(c0.text("readiness-text"), want) && strings.Contains(c0.text("readiness-text"), "READY")
	})
	if got := c0.text("readiness-version"); got != "v2" {
		t.Fatalf("readiness is of %q, want v2", got)
	}
	if w := eval[string](c0, `document.getElementById("readiness-fill").style.width`); w != "75%" {
		t.Fatalf("readiness bar at %s, want 75%%", w)
	}
	ready := eval[map[string]string](c0, `Object.fromEntries([...document.querySelectorAll("#validators tbody tr")].map(r => [r.cells[0].textContent, r.cells[6].textContent]))`)
	if want := map[string]string{"node0": "yes", "node1": "yes", "node2": "yes", "node3": "no"}; !maps.Equal(ready, want) {
		t.Fatalf("ready column %v, want node3 alone not ready", ready)
	}

	// A transaction that fails in its block shows in the recent blocks by its code.
	out, _ := p.M.Run(p.Bin, p.Node(t, "node0"), "tx", "call", "bank", "transfer", `{"to":"`+strings.Repeat("AB", 20)+`","amount":5}`,
		"--from", "admin", "--gas", "5000000", "-o", "json")
	var failed struct {
		Height   int64  `json:"height"`
		Code     uint32 `json:"code"`
		CodeName string `json:"code_name"`
	}
	if err := json.Unmarshal([]byte(out), &failed); err != nil || failed.Code == 0 {
		t.Fatalf("failing transfer: %v: %s", err, out)
	}
	wantFail := fmt.Sprintf("%s (%d): 1", failed.CodeName, failed.Code)
	c0.waitFor("block "+strconv.FormatInt(failed.Height, 10)+" listing "+wantFail, 20*time.Second, func() bool {
		cells := eval[[]string](c0, fmt.Sprintf(`[...(document.querySelector('#blocks tr[data-height="%d"]') || {cells: []}).cells].map(c => c.textContent)`, failed.Height))
		return len(cells) == 5 && cells[3] == "1" && cells[4] == wantFail
	})
	c0.screenshot("1-ready")

	// The switch: a live countdown in blocks, then the timeline shows v2 from its height.
	start := p.Admin(t, "upgrade", "schedule", "2", "--in", "15") + 15
	c0.waitFor("the pending switch", 20*time.Second, func() bool { return c0.visible("pending") })
	if got := c0.text("pending-height"); got != strconv.FormatInt(start, 10) {
		t.Fatalf("pending switch at %s, scheduled at %d", got, start)
	}
	var counts []int
	shotTaken := false
	c0.waitFor("the countdown to end in the switch", 60*time.Second, func() bool {
		if !c0.visible("pending") {
			return true
		}
		cd := c0.text("countdown")
		var n int
		if _, err := fmt.Sscanf(cd, "in %d block", &n); err == nil {
			if !strings.Contains(cd, "about") {
				t.Fatalf("countdown %q has no estimated time", cd)
			}
			if len(counts) == 0 || counts[len(counts)-1] != n {
				counts = append(counts, n)
			}
			if !shotTaken && n <= 8 {
				c0.screenshot("2-countdown")
				shotTaken = true
			}
		}
		return false
	})
	if len(counts) < 3 {
		t.Fatalf("countdown values seen: %v, want it to count down live", counts)
	}
	for i := 1; i < len(counts); i++ {
		if counts[i] >= counts[i-1] {
			t.Fatalf("countdown went %v: not decreasing", counts)
		}
	}
	t.Logf("countdown seen: %v blocks left", counts)
	c0.waitFor("the timeline showing v2 from height "+strconv.FormatInt(start, 10), 30*time.Second, func() bool {
		return eval[bool](c0, fmt.Sprintf(`!!document.querySelector('#history li[data-version="2"][data-height="%d"]')`, start))
	})
	c0.waitFor("blocks from the switch with version.app 2", 30*time.Second, func() bool {
		return eval[string](c0, fmt.Sprintf(`(document.querySelector('#blocks tr[data-height="%d"]') || {cells: [0,0,{textContent: ""}]}).cells[2].textContent`, start)) == "2"
	})
	if !strings.HasPrefix(c0.text("effective"), "v2 since height "+strconv.FormatInt(start, 10)) {
		t.Fatalf("node0 effective runtime %q", c0.text("effective"))
	}

	// node3 lacks v2: it pauses at the switch, and its console says what to install.
	c3 := openConsole(t, browser, p.Node(t, "node3"), shots)
	c3.waitFor("node3 paused", 30*time.Second, func() bool { return c3.visible("paused") })
	v2sum := st.Readiness.CodeSHA256
	if got := c3.text("paused-version"); got != "2" {
		t.Fatalf("paused for v%s", got)
	}
	if got := c3.text("paused-sha"); got != v2sum {
		t.Fatalf("paused for sha256 %s, v2 is %s", got, v2sum)
	}
	cmd := c3.text("install-cmd")
	if !strings.HasPrefix(cmd, "vchaind runtime install ") || !strings.Contains(cmd, "--version 2") || !strings.Contains(cmd, p.M.HomeOf(p.Node(t, "node3"))) {
		t.Fatalf("install command shown: %q", cmd)
	}
	if got := c3.text("state"); !strings.Contains(got, "PAUSED") {
		t.Fatalf("node3 state %q", got)
	}
	c3.screenshot("3-paused")

	// Installing resumes it, and the console follows.
	p.CLI(t, "node3", 0, "runtime", "install", p.Modules["v2"], "--version", "2")
	c3.waitFor("node3 running again", 60*time.Second, func() bool {
		return !c3.visible("paused") && c3.text("state") == "running"
	})
	t.Logf("console pages followed the switch to v2 at %d; node3 paused and resumed; identical up to %d",
		start, p.CheckConsistency(t, validators4...))
}
