// Package metrics is vchain's own Prometheus instrumentation. It is the only app package
// that imports client_golang: the ABCI adapter and the executor call the methods of
// *Metrics, every one of which does nothing on a nil receiver, so a node without
// `[instrumentation] prometheus = true`, and every unit test, runs with no registry at all.
//
// The series are registered on the registry CometBFT serves on its instrumentation
// listener (prometheus.DefaultRegisterer), under the namespace vchain_ and with CometBFT's
// chain_id label, so one scrape of a node returns both. Labels take only bounded values:
// result codes (clamped to the codes vchain defines) and installed version numbers.
package metrics

import (
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vchain/vchain/app/codes"
)

// Namespace prefixes every series.
const Namespace = "vchain"

// Sources are values read when Prometheus scrapes rather than pushed when they change:
// a pause and its length change while no block executes, and the runtime's instance
// counters move in every call. A nil function reads as 0.
type Sources struct {
	// Pause reports whether the node is paused for a runtime now, and the seconds it
	// has spent paused since it started (the current pause included).
	Pause func() (paused bool, total time.Duration)
	// Instances reports how many times the runtime reset an instance to its snapshot
	// between calls, and how many instances it created to replace one it could not reset.
	Instances func() (resets, created uint64)
}

// Metrics holds vchain's series. The zero of *Metrics (nil) is valid and records nothing.
type Metrics struct {
	src Sources

	// runtime
	effectiveVersion  prometheus.Gauge
	effectiveProfile  prometheus.Gauge
	effectiveSince    prometheus.Gauge
	pendingVersion    prometheus.Gauge
	pendingProfile    prometheus.Gauge
	pendingStart      prometheus.Gauge
	pendingBlocksLeft prometheus.Gauge
	installedCount    prometheus.Gauge
	installed         *prometheus.GaugeVec
	readyVersion      prometheus.Gauge
	readyAttested     prometheus.Gauge
	readyTotal        prometheus.Gauge
	readyThreshold    prometheus.Gauge
	ready             prometheus.Gauge
	switches          prometheus.Counter

	// execution
	blockSeconds    prometheus.Histogram
	blockGas        prometheus.Histogram
	txs             *prometheus.CounterVec
	blocks          *prometheus.CounterVec
	proposalSeconds *prometheus.HistogramVec

	// admission
	admitted  prometheus.Counter
	refused   *prometheus.CounterVec
	evictions *prometheus.CounterVec
	batches   prometheus.Histogram

	// state
	commitSeconds prometheus.Histogram
	saveSeconds   prometheus.Histogram
	height        prometheus.Gauge

	mu            sync.Mutex
	lastInstalled []uint64 // the versions the installed vector holds, to drop removed ones
}

// Runtime is the runtime lifecycle as committed state and this node's runtime directory
// show it after a commit.
type Runtime struct {
	Height           int64 // last committed height
	EffectiveVersion uint64
	EffectiveProfile uint32
	EffectiveSince   int64 // first height the effective version executed
	// PendingVersion is 0 when no switch is pending; then the other Pending fields are 0.
	PendingVersion     uint64
	PendingProfile     uint32
	PendingStartHeight int64
	PendingBlocksLeft  int64
	// Installed are the versions in this node's runtime directory.
	Installed []uint64
	// Readiness is of the pending version, else of the newest registered one.
	ReadinessVersion uint64
	AttestedPower    int64
	TotalPower       int64
	// ThresholdNum/ThresholdDen is the install threshold readiness is measured against.
	ThresholdNum, ThresholdDen uint64
	Ready                      bool
}

// Buckets of vchain_execution_block_duration_seconds: 1 ms to about 16 s. A block of a few
// thousand contract calls takes tens to hundreds of milliseconds.
var blockBuckets = prometheus.ExponentialBuckets(0.001, 2, 15)

// Buckets of vchain_state_commit_duration_seconds: 0.5 ms to about 4 s.
var commitBuckets = prometheus.ExponentialBuckets(0.0005, 2, 14)

// Buckets of vchain_admission_batch_size: 1 to 64 transactions.
var batchBuckets = prometheus.ExponentialBuckets(1, 2, 7)

// Buckets of vchain_execution_block_gas_used: 10,000 to about 10^11 (powers of 4), from one
// lifecycle message to a full block of the largest calls.
var gasBuckets = prometheus.ExponentialBuckets(1e4, 4, 12)

// New creates vchain's series for chainID and registers them on reg, with src read at each
// scrape. It fails when reg already holds them (a second node in one process registering on
// the same registry).
func New(reg prometheus.Registerer, chainID string, src Sources) (*Metrics, error) {
	labels := prometheus.Labels{"chain_id": chainID}
	g := func(sub, name, help string) prometheus.Gauge {
		return prometheus.NewGauge(prometheus.GaugeOpts{Namespace: Namespace, Subsystem: sub, Name: name, Help: help, ConstLabels: labels})
	}
	m := &Metrics{
		src:               src,
		effectiveVersion:  g("runtime", "effective_version", "Runtime version executing the chain's blocks."),
		effectiveProfile:  g("runtime", "effective_profile", "Execution profile of the effective runtime version."),
		effectiveSince:    g("runtime", "effective_since_height", "First height executed by the effective runtime version."),
		pendingVersion:    g("runtime", "pending_version", "Runtime version of the scheduled switch; 0 when none is pending."),
		pendingProfile:    g("runtime", "pending_profile", "Execution profile of the scheduled switch; 0 when none is pending."),
		pendingStart:      g("runtime", "pending_start_height", "First height the pending version executes; 0 when none is pending."),
		pendingBlocksLeft: g("runtime", "pending_blocks_left", "Blocks the effective version still executes before the pending switch; 0 when none is pending."),
		installedCount:    g("runtime", "installed_versions", "Runtime versions installed on this node."),
		installed: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: Namespace, Subsystem: "runtime", Name: "version_installed",
			Help: "1 for each runtime version installed on this node.", ConstLabels: labels}, []string{"version"}),
		readyVersion:   g("runtime", "readiness_version", "Runtime version readiness is measured for: the pending one, else the newest registered."),
		readyAttested:  g("runtime", "readiness_attested_power", "Voting power of validators that attested the readiness version and its profile."),
		readyTotal:     g("runtime", "readiness_total_power", "Total voting power of the validator set."),
		readyThreshold: g("runtime", "readiness_threshold_ratio", "Install threshold: the share of voting power that must attest a version before it can be scheduled."),
		ready:          g("runtime", "readiness_ready", "1 when the attested power reaches the install threshold, else 0."),
		switches: prometheus.NewCounter(prometheus.CounterOpts{Namespace: Namespace, Subsystem: "runtime", Name: "switches_total",
			Help: "Runtime switches this node executed since it started.", ConstLabels: labels}),

		blockSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: Namespace, Subsystem: "execution", Name: "block_duration_seconds",
			Help: "Time to execute a block in FinalizeBlock, not counting a pause for a missing runtime.", Buckets: blockBuckets, ConstLabels: labels}),
		blockGas: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: Namespace, Subsystem: "execution", Name: "block_gas_used",
			Help: "Gas used by the transactions of a block.", Buckets: gasBuckets, ConstLabels: labels}),
		txs: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Subsystem: "execution", Name: "txs_total",
			Help: "Transactions executed in blocks, by result code (0 is success).", ConstLabels: labels}, []string{"code", "reason"}),
		blocks: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Subsystem: "execution", Name: "blocks_total",
			Help: "Blocks executed, by path: optimistic (executed once ProcessProposal accepted it, while the votes went round) or finalize (executed in FinalizeBlock: another round's block, replay, block sync, or optimistic execution off).", ConstLabels: labels}, []string{"path"}),
		proposalSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: Namespace, Subsystem: "execution", Name: "proposal_duration_seconds",
			Help: "Time the app takes to answer PrepareProposal (this node proposing) or ProcessProposal (this validator's prevote waits for it), by step.", Buckets: commitBuckets, ConstLabels: labels}, []string{"step"}),

		admitted: prometheus.NewCounter(prometheus.CounterOpts{Namespace: Namespace, Subsystem: "admission", Name: "admitted_total",
			Help: "Transactions CheckTx admitted to the mempool (rechecks not counted).", ConstLabels: labels}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Subsystem: "admission", Name: "refused_total",
			Help: "Transactions CheckTx refused, by result code.", ConstLabels: labels}, []string{"code", "reason"}),
		evictions: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Subsystem: "admission", Name: "recheck_evictions_total",
			Help: "Mempool transactions a recheck after a commit evicted, by result code.", ConstLabels: labels}, []string{"code", "reason"}),
		batches: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: Namespace, Subsystem: "admission", Name: "batch_size",
			Help: "New transactions checked together, their signatures verified as one batch (a batch gathers for up to 3 ms or 64 transactions).", Buckets: batchBuckets, ConstLabels: labels}),

		commitSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: Namespace, Subsystem: "state", Name: "commit_duration_seconds",
			Help: "Time Commit takes on the consensus path (the block is saved in the background: vchain_state_save_duration_seconds).", Buckets: commitBuckets, ConstLabels: labels}),
		saveSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: Namespace, Subsystem: "state", Name: "save_duration_seconds",
			Help: "Time to make a committed block durable in the background: the trees' new versions, the synced commit record and pruning.", Buckets: commitBuckets, ConstLabels: labels}),
		height: g("state", "height", "Last height the app committed."),
	}
	pause := func() (bool, time.Duration) {
		if m.src.Pause == nil {
			return false, 0
		}
		return m.src.Pause()
	}
	instances := func() (uint64, uint64) {
		if m.src.Instances == nil {
			return 0, 0
		}
		return m.src.Instances()
	}
	collectors := []prometheus.Collector{
		m.effectiveVersion, m.effectiveProfile, m.effectiveSince, m.pendingVersion, m.pendingProfile, m.pendingStart,
		m.pendingBlocksLeft, m.installedCount, m.installed, m.readyVersion, m.readyAttested, m.readyTotal, m.readyThreshold,
		m.ready, m.switches, m.blockSeconds, m.blockGas, m.txs, m.blocks, m.proposalSeconds, m.admitted, m.refused, m.evictions, m.batches, m.commitSeconds, m.saveSeconds, m.height,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: Namespace, Subsystem: "runtime", Name: "paused",
			Help: "1 while this node waits for a runtime version (or a vchaind) it lacks before executing the next block, else 0.", ConstLabels: labels},
			func() float64 {
				if p, _ := pause(); p {
					return 1
				}
				return 0
			}),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: Namespace, Subsystem: "runtime", Name: "paused_seconds_total",
			Help: "Seconds this node has spent paused for a missing runtime since it started.", ConstLabels: labels},
			func() float64 { _, d := pause(); return d.Seconds() }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: Namespace, Subsystem: "runtime", Name: "instance_resets_total",
			Help: "Contract instances reset to their initial snapshot between calls.", ConstLabels: labels},
			func() float64 { r, _ := instances(); return float64(r) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: Namespace, Subsystem: "runtime", Name: "instances_created_total",
			Help: "Contract instances created, because none was idle or one could not be reset (its memory grew, or it exited).", ConstLabels: labels},
			func() float64 { _, c := instances(); return float64(c) }),
	}
	// Success exists from the start, so a rate over it is defined before the first
	// transaction; the failure codes appear when one happens.
	m.txs.WithLabelValues(codeLabels(0))
	for _, p := range []string{PathOptimistic, PathFinalize} {
		m.blocks.WithLabelValues(p)
	}
	for i, c := range collectors {
		if err := reg.Register(c); err != nil {
			// Unregistering goes by description: only what this call added, or it would
			// remove another set's series of the same names.
			for _, done := range collectors[:i] {
				reg.Unregister(done)
			}
			return nil, fmt.Errorf("register vchain metrics: %w", err)
		}
	}
	return m, nil
}

// codeLabels returns the code and reason labels of a result code. A code vchain does not
// define (none is returned today) is reported as "other", so no input can grow the series.
func codeLabels(c uint32) (string, string) {
	if !codes.Known(codes.Code(c)) {
		return "other", "other"
	}
	return strconv.FormatUint(uint64(c), 10), codes.Code(c).String()
}

// The paths a block is executed by (vchain_execution_blocks_total's label).
const (
	PathOptimistic = "optimistic"
	PathFinalize   = "finalize"
)

// The steps of a proposal (vchain_execution_proposal_duration_seconds's label).
const (
	StepPrepare = "prepare"
	StepProcess = "process"
)

// BlockExecuted records a block FinalizeBlock returned: how long its execution took
// (without a pause), by which path (PathOptimistic or PathFinalize), the result code of
// each transaction, the gas they used, and whether it switched runtime.
func (m *Metrics) BlockExecuted(d time.Duration, path string, txCodes []uint32, gasUsed uint64, switched bool) {
	if m == nil {
		return
	}
	m.blockSeconds.Observe(d.Seconds())
	m.blocks.WithLabelValues(path).Inc()
	m.blockGas.Observe(float64(gasUsed))
	for _, c := range txCodes {
		m.txs.WithLabelValues(codeLabels(c)).Inc()
	}
	if switched {
		m.switches.Inc()
	}
}

// Proposal records the time the app took for a proposal step (StepPrepare or StepProcess).
func (m *Metrics) Proposal(step string, d time.Duration) {
	if m == nil {
		return
	}
	m.proposalSeconds.WithLabelValues(step).Observe(d.Seconds())
}

// Committed records a block's commit and the runtime state it left.
func (m *Metrics) Committed(d time.Duration, r Runtime) {
	if m == nil {
		return
	}
	m.commitSeconds.Observe(d.Seconds())
	m.SetRuntime(r)
}

// Saved records the background save of a committed block.
func (m *Metrics) Saved(d time.Duration) {
	if m == nil {
		return
	}
	m.saveSeconds.Observe(d.Seconds())
}

// SetRuntime sets the runtime lifecycle series (also before the first block, at start).
func (m *Metrics) SetRuntime(r Runtime) {
	if m == nil {
		return
	}
	m.height.Set(float64(r.Height))
	m.effectiveVersion.Set(float64(r.EffectiveVersion))
	m.effectiveProfile.Set(float64(r.EffectiveProfile))
	m.effectiveSince.Set(float64(r.EffectiveSince))
	m.pendingVersion.Set(float64(r.PendingVersion))
	m.pendingProfile.Set(float64(r.PendingProfile))
	m.pendingStart.Set(float64(r.PendingStartHeight))
	m.pendingBlocksLeft.Set(float64(r.PendingBlocksLeft))
	m.readyVersion.Set(float64(r.ReadinessVersion))
	m.readyAttested.Set(float64(r.AttestedPower))
	m.readyTotal.Set(float64(r.TotalPower))
	th := 0.0
	if r.ThresholdDen != 0 {
		th = float64(r.ThresholdNum) / float64(r.ThresholdDen)
	}
	m.readyThreshold.Set(th)
	m.ready.Set(bool01(r.Ready))
	m.installedCount.Set(float64(len(r.Installed)))

	m.mu.Lock()
	defer m.mu.Unlock()
	now := map[uint64]bool{}
	for _, v := range r.Installed {
		now[v] = true
		m.installed.WithLabelValues(strconv.FormatUint(v, 10)).Set(1)
	}
	for _, v := range m.lastInstalled {
		if !now[v] {
			m.installed.DeleteLabelValues(strconv.FormatUint(v, 10))
		}
	}
	m.lastInstalled = append(m.lastInstalled[:0], r.Installed...)
}

// CheckTx records one CheckTx answer: code 0 admits the transaction. A recheck that
// refuses evicts a transaction already in the mempool.
func (m *Metrics) CheckTx(code uint32, recheck bool) {
	if m == nil {
		return
	}
	switch {
	case code == 0 && !recheck:
		m.admitted.Inc()
	case code != 0 && recheck:
		m.evictions.WithLabelValues(codeLabels(code)).Inc()
	case code != 0:
		m.refused.WithLabelValues(codeLabels(code)).Inc()
	}
}

// CheckBatch records a batch of n new transactions checked together.
func (m *Metrics) CheckBatch(n int) {
	if m == nil {
		return
	}
	m.batches.Observe(float64(n))
}

func bool01(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
