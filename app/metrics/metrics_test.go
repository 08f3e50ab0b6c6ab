package metrics

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"

	"github.com/vchain/vchain/app/codes"
)

// TestNilRecordsNothing: a node without Prometheus holds a nil *Metrics and calls it on
// every block; none of the calls may panic.
func TestNilRecordsNothing(t *testing.T) {
	var m *Metrics
	m.BlockExecuted(time.Second, PathFinalize, []uint32{0, 5}, 10, true)
	m.Committed(time.Millisecond, Runtime{EffectiveVersion: 1})
	m.SetRuntime(Runtime{Installed: []uint64{1}})
	m.CheckTx(3, false)
	m.CheckTx(0, true)
}

func newTest(t *testing.T, src Sources) (*Metrics, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	m, err := New(reg, "test-chain", src)
	if err != nil {
		t.Fatal(err)
	}
	return m, reg
}

// value returns the value of the series name{labels} gathered from reg (chain_id is
// added), failing the test when there is no such series.
func value(t *testing.T, reg *prometheus.Registry, name string, labels ...string) float64 {
	t.Helper()
	want := map[string]string{"chain_id": "test-chain"}
	for i := 0; i+1 < len(labels); i += 2 {
		want[labels[i]] = labels[i+1]
	}
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
	series:
		for _, s := range f.GetMetric() {
			if len(s.GetLabel()) != len(want) {
				continue
			}
			for _, l := range s.GetLabel() {
				if want[l.GetName()] != l.GetValue() {
					continue series
				}
			}
			switch {
			case s.Gauge != nil:
				return s.Gauge.GetValue()
			case s.Counter != nil:
				return s.Counter.GetValue()
			case s.Histogram != nil:
				return float64(s.Histogram.GetSampleCount())
			}
		}
	}
	t.Fatalf("no series %s%v", name, want)
	return 0
}

func has(t *testing.T, reg *prometheus.Registry, name string, labels ...string) bool {
	t.Helper()
	n, err := testutil.GatherAndCount(reg, name)
	if err != nil {
		t.Fatal(err)
	}
	if n == 0 || len(labels) == 0 {
		return n > 0
	}
	fams, _ := reg.Gather()
	for _, f := range fams {
		for _, s := range f.GetMetric() {
			for _, l := range s.GetLabel() {
				if f.GetName() == name && l.GetName() == labels[0] && l.GetValue() == labels[1] {
					return true
				}
			}
		}
	}
	return false
}

func TestRuntimeSeries(t *testing.T) {
	m, reg := newTest(t, Sources{})
	m.SetRuntime(Runtime{Height: 41, EffectiveVersion: 2, EffectiveProfile: 1, EffectiveSince: 30,
		PendingVersion: 3, PendingProfile: 2, PendingStartHeight: 50, PendingBlocksLeft: 8,
		Installed: []uint64{1, 2, 3}, ReadinessVersion: 3, AttestedPower: 20, TotalPower: 40,
		ThresholdNum: 2, ThresholdDen: 3, Ready: false})
	for _, c := range []struct {
		name string
		want float64
	}{
		{"vchain_state_height", 41},
		{"vchain_runtime_effective_version", 2},
		{"vchain_runtime_effective_profile", 1},
		{"vchain_runtime_effective_since_height", 30},
		{"vchain_runtime_pending_version", 3},
		{"vchain_runtime_pending_profile", 2},
		{"vchain_runtime_pending_start_height", 50},
		{"vchain_runtime_pending_blocks_left", 8},
		{"vchain_runtime_installed_versions", 3},
		{"vchain_runtime_readiness_version", 3},
		{"vchain_runtime_readiness_attested_power", 20},
		{"vchain_runtime_readiness_total_power", 40},
		{"vchain_runtime_readiness_threshold_ratio", 2.0 / 3},
		{"vchain_runtime_readiness_ready", 0},
	} {
		if got := value(t, reg, c.name); got != c.want {
			t.Errorf("%s = %v, want %v", c.name, got, c.want)
		}
	}
	// A version removed from the runtime directory leaves the installed vector.
	m.Committed(3*time.Millisecond, Runtime{Height: 42, EffectiveVersion: 3, Installed: []uint64{1, 3}, Ready: true})
	if has(t, reg, "vchain_runtime_version_installed", "version", "2") {
		t.Error("version 2 still reported installed after its removal")
	}
	if got := value(t, reg, "vchain_runtime_version_installed", "version", "3"); got != 1 {
		t.Errorf("version 3 installed = %v", got)
	}
	if got := value(t, reg, "vchain_runtime_pending_version"); got != 0 {
		t.Errorf("pending version after the switch = %v, want 0", got)
	}
	if got := value(t, reg, "vchain_runtime_readiness_ready"); got != 1 {
		t.Errorf("ready = %v, want 1", got)
	}
	if got := value(t, reg, "vchain_state_commit_duration_seconds"); got != 1 {
		t.Errorf("commits observed = %v, want 1 (SetRuntime alone observes none)", got)
	}
}

func TestExecutionAndAdmission(t *testing.T) {
	m, reg := newTest(t, Sources{})
	if got := value(t, reg, "vchain_execution_txs_total", "code", "0", "reason", "ok"); got != 0 {
		t.Fatalf("successes before any block = %v", got)
	}
	m.BlockExecuted(20*time.Millisecond, PathOptimistic, []uint32{0, 0, uint32(codes.OutOfGas), 999}, 150_000, false)
	m.BlockExecuted(time.Millisecond, PathFinalize, nil, 0, true)
	m.BlockExecuted(time.Millisecond, PathOptimistic, nil, 0, false)
	m.Proposal(StepPrepare, time.Millisecond)
	m.Proposal(StepProcess, time.Millisecond)
	m.Proposal(StepProcess, 2*time.Millisecond)
	checks := []struct {
		name   string
		labels []string
		want   float64
	}{
		{"vchain_execution_txs_total", []string{"code", "0", "reason", "ok"}, 2},
		{"vchain_execution_txs_total", []string{"code", "20", "reason", "out_of_gas"}, 1},
		{"vchain_execution_txs_total", []string{"code", "other", "reason", "other"}, 1}, // bounded
		{"vchain_execution_block_duration_seconds", nil, 3},
		{"vchain_execution_block_gas_used", nil, 3},
		{"vchain_execution_blocks_total", []string{"path", "optimistic"}, 2},
		{"vchain_execution_blocks_total", []string{"path", "finalize"}, 1},
		{"vchain_execution_proposal_duration_seconds", []string{"step", "prepare"}, 1},
		{"vchain_execution_proposal_duration_seconds", []string{"step", "process"}, 2},
		{"vchain_runtime_switches_total", nil, 1},
	}
	m.CheckTx(0, false)
	m.CheckTx(0, false)
	m.CheckTx(0, true) // a recheck that keeps a transaction admits nothing new
	m.CheckTx(uint32(codes.BadSignature), false)
	m.CheckTx(uint32(codes.NonceReplayed), true)
	m.CheckBatch(1)
	m.CheckBatch(12)
	checks = append(checks, []struct {
		name   string
		labels []string
		want   float64
	}{
		{"vchain_admission_admitted_total", nil, 2},
		{"vchain_admission_refused_total", []string{"code", "3", "reason", "bad_signature"}, 1},
		{"vchain_admission_recheck_evictions_total", []string{"code", "5", "reason", "nonce_replayed"}, 1},
		{"vchain_admission_batch_size", nil, 2},
	}...)
	for _, c := range checks {
		if got := value(t, reg, c.name, c.labels...); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	if has(t, reg, "vchain_admission_refused_total", "code", "5") {
		t.Error("a recheck eviction was counted as a refusal")
	}
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() == "vchain_execution_block_gas_used" {
			if s := f.GetMetric()[0].GetHistogram().GetSampleSum(); s != 150_000 {
				t.Errorf("gas used in all = %v, want 150000", s)
			}
		}
	}
}

// TestSourcesReadAtScrape: the pause and instance series follow their sources between
// blocks, with no call from the app.
func TestSourcesReadAtScrape(t *testing.T) {
	paused, total := false, time.Duration(0)
	resets, created := uint64(0), uint64(0)
	_, reg := newTest(t, Sources{
		Pause:     func() (bool, time.Duration) { return paused, total },
		Instances: func() (uint64, uint64) { return resets, created },
	})
	if value(t, reg, "vchain_runtime_paused") != 0 || value(t, reg, "vchain_runtime_paused_seconds_total") != 0 {
		t.Fatal("paused before any pause")
	}
	paused, total, resets, created = true, 2500*time.Millisecond, 7, 2
	if got := value(t, reg, "vchain_runtime_paused"); got != 1 {
		t.Errorf("paused = %v", got)
	}
	if got := value(t, reg, "vchain_runtime_paused_seconds_total"); got != 2.5 {
		t.Errorf("paused seconds = %v", got)
	}
	if got := value(t, reg, "vchain_runtime_instance_resets_total"); got != 7 {
		t.Errorf("resets = %v", got)
	}
	if got := value(t, reg, "vchain_runtime_instances_created_total"); got != 2 {
		t.Errorf("created = %v", got)
	}
	// Without sources the series exist and read 0.
	_, bare := newTest(t, Sources{})
	if value(t, bare, "vchain_runtime_paused") != 0 || value(t, bare, "vchain_runtime_instance_resets_total") != 0 {
		t.Error("series without a source are not 0")
	}
}

// TestRegisterTwice: a second set of series on one registry is an error, not a panic, and
// leaves the first set working.
func TestRegisterTwice(t *testing.T) {
	m, reg := newTest(t, Sources{})
	if _, err := New(reg, "test-chain", Sources{}); err == nil {
		t.Fatal("second registration accepted")
	}
	m.SetRuntime(Runtime{EffectiveVersion: 4})
	if got := value(t, reg, "vchain_runtime_effective_version"); got != 4 {
		t.Fatalf("first set broken after a refused second: %v", got)
	}
}

// TestLint runs Prometheus's own linter (promtool check metrics uses the same rules) over
// every series, each family populated.
func TestLint(t *testing.T) {
	m, reg := newTest(t, Sources{})
	m.SetRuntime(Runtime{Installed: []uint64{1}})
	m.BlockExecuted(time.Millisecond, PathOptimistic, []uint32{0, 20}, 10, true)
	m.CheckTx(0, false)
	m.CheckTx(3, false)
	m.CheckTx(3, true)
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	problems, err := promlint.NewWithMetricFamilies(fams).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("%s: %s", p.Metric, p.Text)
	}
	for _, f := range fams {
		if !strings.HasPrefix(f.GetName(), Namespace+"_") {
			t.Errorf("%s is outside the %s_ namespace", f.GetName(), Namespace)
		}
	}
	if len(fams) < 27 {
		t.Errorf("%d families, want every series of the package", len(fams))
	}
}
