package testnet

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"

	"github.com/vchain/vchain/app/codes"
	"github.com/vchain/vchain/internal/client"
)

// scrape is one /metrics answer of a node: its text and its parsed families.
type scrape struct {
	node string
	text []byte
	fams map[string]*dto.MetricFamily
}

// scrapeNode fetches /metrics from the Prometheus listener `testnet init` gave the node.
func (p *ProcNet) scrapeNode(t testing.TB, name string) scrape {
	t.Helper()
	url := fmt.Sprintf("http://127.0.0.1:%d/metrics", p.Node(t, name).Metrics)
	res, err := http.Get(url)
	if err != nil {
		t.Fatalf("%s: scrape %s: %v", name, url, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("%s: scrape %s: status %d, %v", name, url, res.StatusCode, err)
	}
	var parser expfmt.TextParser
	fams, err := parser.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("%s: parse /metrics: %v", name, err)
	}
	return scrape{node: name, text: body, fams: fams}
}

// get returns the value of the series name whose labels include labels (pairs); for a
// histogram, its sample count. It fails the test when there is none.
func (s scrape) get(t testing.TB, name string, labels ...string) float64 {
	t.Helper()
	v, ok := s.lookup(name, labels...)
	if !ok {
		t.Fatalf("%s: no series %s%v in /metrics", s.node, name, labels)
	}
	return v
}

func (s scrape) lookup(name string, labels ...string) (float64, bool) {
	f := s.fams[name]
	if f == nil {
		return 0, false
	}
series:
	for _, m := range f.GetMetric() {
		for i := 0; i+1 < len(labels); i += 2 {
			found := false
			for _, l := range m.GetLabel() {
				found = found || (l.GetName() == labels[i] && l.GetValue() == labels[i+1])
			}
			if !found {
				continue series
			}
		}
		switch {
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount()), true
		case m.Untyped != nil:
			return m.Untyped.GetValue(), true
		}
	}
	return 0, false
}

// histogramSum returns the sum of the histogram name.
func (s scrape) histogramSum(t testing.TB, name string) float64 {
	t.Helper()
	f := s.fams[name]
	if f == nil || len(f.GetMetric()) != 1 || f.GetMetric()[0].Histogram == nil {
		t.Fatalf("%s: no histogram %s", s.node, name)
	}
	return f.GetMetric()[0].Histogram.GetSampleSum()
}

// txsByCode sums vchain_execution_txs_total by its code label.
func (s scrape) txsByCode() map[string]float64 {
	out := map[string]float64{}
	for _, m := range s.fams["vchain_execution_txs_total"].GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == "code" && m.GetCounter().GetValue() > 0 {
				out[l.GetValue()] += m.GetCounter().GetValue()
			}
		}
	}
	return out
}

// vchainOnly keeps the vchain_ families of an exposition (with their HELP and TYPE lines).
func vchainOnly(text []byte) []byte {
	var out bytes.Buffer
	for _, line := range strings.SplitAfter(string(text), "\n") {
		if strings.HasPrefix(line, "vchain_") || strings.HasPrefix(line, "# HELP vchain_") || strings.HasPrefix(line, "# TYPE vchain_") {
			out.WriteString(line)
		}
	}
	return out.Bytes()
}

// chainTotals reads every block's results from a node's RPC, 1..top: transactions by
// result code, and the gas they used.
func chainTotals(t testing.TB, c *client.Client, top int64) (map[string]float64, float64) {
	t.Helper()
	byCode, gas := map[string]float64{}, 0.0
	for h := int64(1); h <= top; h++ {
		res, err := c.RPC.BlockResults(context.Background(), &h)
		if err != nil {
			t.Fatalf("block results %d: %v", h, err)
		}
		for _, r := range res.TxsResults {
			byCode[fmt.Sprint(r.Code)]++
			gas += float64(r.GasUsed)
		}
	}
	return byCode, gas
}

// settle waits until no transaction is in flight (the mempools are empty) and the chain has
// moved two more blocks, so every node has executed and committed the same transactions.
func (p *ProcNet) settle(t testing.TB, names ...string) int64 {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for _, name := range names {
		c := p.Client(t, name)
		for {
			n, err := c.RPC.NumUnconfirmedTxs(context.Background())
			if err == nil && n.Total == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: mempool not empty after 60s (%v)", name, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	top := p.Status(t, names[0]).Height + 2
	p.WaitHeight(t, top, 60*time.Second, names...)
	return top
}

// checkChainValues checks each node's series against what the chain reports through RPC
// and ABCI queries at the same moment: the height, the effective and pending runtime, the
// transactions by result code and the gas of every block since genesis (the processes have
// run since genesis, so their counters cover the whole chain).
func (p *ProcNet) checkChainValues(t testing.TB, names ...string) map[string]scrape {
	t.Helper()
	top := p.settle(t, names...)
	wantCodes, wantGas := chainTotals(t, p.Client(t, names[0]), top)
	out := map[string]scrape{}
	for _, name := range names {
		c := p.Client(t, name)
		before := p.Status(t, name).Height
		s := p.scrapeNode(t, name)
		st, err := c.UpgradeStatus(context.Background(), 0)
		if err != nil {
			t.Fatal(err)
		}
		after := p.Status(t, name).Height
		h := int64(s.get(t, "vchain_state_height"))
		if h < before-1 || h > after {
			t.Errorf("%s: vchain_state_height %d, the node reported %d then %d", name, h, before, after)
		}
		// Every block this process executed since genesis, the one in progress at most.
		n := int64(s.get(t, "vchain_execution_block_duration_seconds"))
		if n < h || n > h+1 {
			t.Errorf("%s: %d blocks executed, at committed height %d", name, n, h)
		}
		// Each block counted once, by the path that executed it (a block finishing between
		// the two series' collection may show in one only).
		opt, fin := int64(s.get(t, "vchain_execution_blocks_total", "path", "optimistic")), int64(s.get(t, "vchain_execution_blocks_total", "path", "finalize"))
		if sum := opt + fin; sum < n-1 || sum > n+1 {
			t.Errorf("%s: blocks_total optimistic %d + finalize %d, but %d blocks executed", name, opt, fin, n)
		}
		if opt == 0 && h > 10 {
			t.Errorf("%s: no block of %d was executed optimistically", name, h)
		}
		if got := s.get(t, "vchain_runtime_effective_version"); uint64(got) != st.Effective.Version {
			t.Errorf("%s: effective version %v, /upgrade/status says %d", name, got, st.Effective.Version)
		}
		if got := s.get(t, "vchain_runtime_effective_profile"); uint32(got) != st.Effective.Profile {
			t.Errorf("%s: effective profile %v, /upgrade/status says %d", name, got, st.Effective.Profile)
		}
		if got := s.get(t, "vchain_runtime_effective_since_height"); int64(got) != st.Effective.SinceHeight {
			t.Errorf("%s: effective since %v, /upgrade/status says %d", name, got, st.Effective.SinceHeight)
		}
		wantPending := 0.0
		if st.Pending != nil {
			wantPending = float64(st.Pending.Version)
		}
		if got := s.get(t, "vchain_runtime_pending_version"); got != wantPending {
			t.Errorf("%s: pending version %v, /upgrade/status says %v", name, got, wantPending)
		}
		if got := s.get(t, "vchain_runtime_installed_versions"); int(got) != len(st.Installed) {
			t.Errorf("%s: %v versions installed, /upgrade/status lists %d", name, got, len(st.Installed))
		}
		for _, in := range st.Installed {
			if got, _ := s.lookup("vchain_runtime_version_installed", "version", fmt.Sprint(in.Version)); got != 1 {
				t.Errorf("%s: version %d installed but not in vchain_runtime_version_installed", name, in.Version)
			}
		}
		// The transactions are in blocks the node committed before the last two: the
		// counters have settled and must equal the chain's own results exactly.
		gotCodes := s.txsByCode()
		if fmt.Sprint(gotCodes) != fmt.Sprint(wantCodes) {
			t.Errorf("%s: transactions by code %v, the chain's block results %v", name, gotCodes, wantCodes)
		}
		if got := s.histogramSum(t, "vchain_execution_block_gas_used"); got != wantGas {
			t.Errorf("%s: gas used %v, the chain's block results %v", name, got, wantGas)
		}
		out[name] = s
	}
	return out
}

// checkReadiness compares the readiness series with /upgrade/status for version.
func (p *ProcNet) checkReadiness(t testing.TB, s scrape, version uint64, wantReady bool) {
	t.Helper()
	st, err := p.Client(t, s.node).UpgradeStatus(context.Background(), version)
	if err != nil {
		t.Fatal(err)
	}
	r := st.Readiness
	for _, c := range []struct {
		name string
		want float64
	}{
		{"vchain_runtime_readiness_version", float64(version)},
		{"vchain_runtime_readiness_attested_power", float64(r.AttestedPower)},
		{"vchain_runtime_readiness_total_power", float64(r.TotalPower)},
		{"vchain_runtime_readiness_threshold_ratio", float64(r.Threshold.Num) / float64(r.Threshold.Den)},
		{"vchain_runtime_readiness_ready", map[bool]float64{true: 1}[r.Ready]},
	} {
		if got := s.get(t, c.name); got != c.want {
			t.Errorf("%s: %s = %v, /upgrade/status %d says %v", s.node, c.name, got, version, c.want)
		}
	}
	if r.Ready != wantReady {
		t.Errorf("%s: v%d ready %v, want %v", s.node, version, r.Ready, wantReady)
	}
}

// promtoolLint runs `promtool check metrics` over the vchain_ series of a scrape.
// CometBFT's own series are left out: several of them break the naming rules (counters
// without _total), which vchain cannot change.
func promtoolLint(t *testing.T, s scrape) {
	t.Helper()
	path, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("promtool is missing (Debian package prometheus; .ci/run installs it)")
		}
		t.Skip("promtool not found: install Debian's prometheus package to lint the metrics")
	}
	cmd := exec.Command(path, "check", "metrics")
	cmd.Stdin = bytes.NewReader(vchainOnly(s.text))
	out, err := cmd.CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) != 0 {
		t.Errorf("%s: promtool check metrics: %v\n%s", s.node, err, out)
	}
}

// TestProcessMetrics: /metrics on each validator process carries vchain's series with the
// values the chain reports, before a switch (with readiness filling up as validators
// install v2), while it is pending (the start height and the blocks left), and after it;
// a validator without v2 shows that it is paused and for how long, and resumes; promtool
// finds nothing to lint.
func TestProcessMetrics(t *testing.T) {
	if testing.Short() {
		t.Skip("runs vchaind processes")
	}
	p := StartProcNet(t, 4, 0)
	p.WaitHeight(t, 2, 60*time.Second, validators4...)
	load := StartLoad(t, p.M.ChainID, p.Clients(t, validators4...), 2, 100*time.Millisecond)
	time.Sleep(3 * time.Second)
	lr := load.StopAndCheck(t, p.Client(t, "node0"))
	// One transaction CheckTx refuses, on node0 only (a refused one is not gossiped).
	var cerr *client.CheckTxError
	if _, err := p.Client(t, "node0").Broadcast(context.Background(), []byte("not a transaction")); err == nil || !errors.As(err, &cerr) || cerr.Code != codes.Undecodable {
		t.Fatalf("broadcast of garbage: %v", err)
	}

	before := p.checkChainValues(t, validators4...)
	admitted := 0.0
	for _, name := range validators4 {
		s := before[name]
		admitted += s.get(t, "vchain_admission_admitted_total")
		if got := s.get(t, "vchain_runtime_effective_version"); got != 1 {
			t.Fatalf("%s: effective version %v before any switch", name, got)
		}
		if got, _ := s.lookup("vchain_admission_refused_total", "code", "1"); (name == "node0") != (got == 1) {
			t.Errorf("%s: %v undecodable refusals", name, got)
		}
		if s.get(t, "vchain_runtime_instance_resets_total") == 0 {
			t.Errorf("%s: no instance reset after %d calls", name, lr.Committed)
		}
		if s.get(t, "vchain_runtime_paused") != 0 || s.get(t, "vchain_runtime_switches_total") != 0 {
			t.Errorf("%s: paused or switched before any switch", name)
		}
		if s.get(t, "vchain_state_commit_duration_seconds") == 0 {
			t.Errorf("%s: no commit timed", name)
		}
		if s.get(t, "vchain_admission_batch_size") == 0 {
			t.Errorf("%s: no batch of checks recorded", name)
		}
		if s.get(t, "vchain_state_save_duration_seconds") == 0 {
			t.Errorf("%s: no background save timed", name)
		}
		t.Run("promtool/before/"+name, func(t *testing.T) { promtoolLint(t, s) })
	}
	if admitted < float64(lr.Committed) {
		t.Errorf("the nodes admitted %v transactions in all, %d were committed", admitted, lr.Committed)
	}

	// v2 registered and installed on three of four validators: readiness of the newest
	// registered version, 3/4 of the power, is over the 2/3 threshold.
	p.Admin(t, "upgrade", "register", "2", "--file", p.Modules["v2"])
	for _, name := range validators4[:3] {
		p.CLI(t, name, 0, "runtime", "install", p.Modules["v2"], "--version", "2")
	}
	p.settle(t, validators4...)
	for _, name := range validators4 {
		p.checkReadiness(t, p.scrapeNode(t, name), 2, true)
	}

	start := p.Admin(t, "upgrade", "schedule", "2", "--in", "12") + 12
	pending := p.checkChainValues(t, validators4...)
	for _, name := range validators4 {
		s := pending[name]
		h := int64(s.get(t, "vchain_state_height"))
		if got := int64(s.get(t, "vchain_runtime_pending_start_height")); got != start {
			t.Errorf("%s: pending start height %d, want %d", name, got, start)
		}
		// The gauges of one commit are set together; a scrape can fall between a commit's
		// height and its blocks left, so one block of slack.
		if left := int64(s.get(t, "vchain_runtime_pending_blocks_left")); h < start && left != start-h-1 && left != start-h {
			t.Errorf("%s: %d blocks left at height %d, start %d", name, left, h, start)
		}
		p.checkReadiness(t, s, 2, true)
	}

	// node3 lacks v2: it pauses at the start height, and says so.
	deadline := time.Now().Add(60 * time.Second)
	for p.scrapeNode(t, "node3").get(t, "vchain_runtime_paused") != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("node3 never reported a pause: %+v", p.Status(t, "node3"))
		}
		time.Sleep(200 * time.Millisecond)
	}
	if !p.Status(t, "node3").Paused {
		t.Fatal("vchain_runtime_paused is 1 but the node's status says it is not paused")
	}
	time.Sleep(1500 * time.Millisecond)
	if s := p.scrapeNode(t, "node3").get(t, "vchain_runtime_paused_seconds_total"); s < 1 {
		t.Errorf("node3 paused for %v s after at least 1.5 s", s)
	}
	p.CLI(t, "node3", 0, "runtime", "install", p.Modules["v2"], "--version", "2")
	p.WaitHeight(t, start+2, 60*time.Second, validators4...)

	after := p.checkChainValues(t, validators4...)
	hist := p.History(t, "node0")
	if len(hist) != 2 || hist[1].Height != start || hist[1].Version != 2 {
		t.Fatalf("history %+v, want v2 from %d", hist, start)
	}
	for _, name := range validators4 {
		s := after[name]
		for _, c := range []struct {
			name string
			want float64
		}{
			{"vchain_runtime_effective_version", 2},
			{"vchain_runtime_effective_since_height", float64(start)},
			{"vchain_runtime_pending_version", 0},
			{"vchain_runtime_pending_start_height", 0},
			{"vchain_runtime_switches_total", 1},
			{"vchain_runtime_paused", 0},
			{"vchain_runtime_installed_versions", 2},
		} {
			if got := s.get(t, c.name); got != c.want {
				t.Errorf("%s after the switch: %s = %v, want %v", name, c.name, got, c.want)
			}
		}
		paused := s.get(t, "vchain_runtime_paused_seconds_total")
		if (name == "node3") != (paused > 0) {
			t.Errorf("%s: paused for %v s in all", name, paused)
		}
		p.checkReadiness(t, s, 2, true)
		t.Run("promtool/after/"+name, func(t *testing.T) { promtoolLint(t, s) })
	}
	t.Logf("switch to v2 at %d; %d load transactions; node3 paused %.1f s; identical up to %d",
		start, lr.Committed, after["node3"].get(t, "vchain_runtime_paused_seconds_total"), p.CheckConsistency(t, validators4...))
}
