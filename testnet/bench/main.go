// Command bench (`make bench`) measures vchain side by side with CometBFT's own kvstore on
// the identical 4-validator configuration, on this machine, in one go: throughput and
// latency under the same load, the cost of a runtime switch, and replay speed; then it
// writes BENCHMARKS.md with the figures, the machine and the commands, and prints the
// ratios last.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	cmtcfg "github.com/cometbft/cometbft/config"

	"github.com/vchain/vchain/internal/client"
	"github.com/vchain/vchain/internal/loadgen"
	"github.com/vchain/vchain/internal/localnet"
)

var (
	bin           = flag.String("bin", "build/vchaind", "vchaind binary")
	cometbft      = flag.String("cometbft", "build/cometbft", "cometbft binary of the same version")
	contracts     = flag.String("contracts", "build/contracts", "folder with v1.wasm and v2.wasm")
	dir           = flag.String("dir", ".localnet/bench", "scratch folder (wiped)")
	out           = flag.String("out", "BENCHMARKS.md", "report to write")
	goBench       = flag.String("gobench", "", "output of the Go benchmarks to include")
	duration      = flag.Duration("duration", 40*time.Second, "load duration per network")
	senders       = flag.Int("senders", 32, "concurrent senders")
	replayBlocks  = flag.Int64("replay-blocks", 2000, "chain length for the replay measurement")
	p2pDefault    = flag.Bool("p2p-default", false, "keep CometBFT's 5 MB/s per-peer p2p rate limits")
	pairs         = flag.Int("pairs", 3, "throughput runs per network, interleaved kvstore, vchain, kvstore, ...")
	only          = flag.String("only", "", "run one part and print its figures, without writing the report: throughput or scale")
	scale         = flag.String("scale", "10000,100000,1000000", "state sizes (keys, comma-separated) of the scale part; empty skips it")
	scaleDuration = flag.Duration("scale-duration", 20*time.Second, "load duration per state size")
	scaleSettle   = flag.Duration("scale-settle", 60*time.Second, "idle time between a preloaded network's start and its load (the store's compactions of the bulk import)")
)

var began = time.Now()

// loadAtStart is the machine's load average when the run began: other work on a shared
// machine shows in every figure, so the report says how busy it was.
var loadAtStart = loadAverage()

// loadAverage returns the 1-, 5- and 15-minute load averages as /proc/loadavg gives them.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

func say(format string, args ...any) {
	fmt.Printf("[%6.1fs] %s\n", time.Since(began).Seconds(), fmt.Sprintf(format, args...))
}

// started lists every node process this run started, so a failure stops them too.
var started []*localnet.Manifest

func stopAll() {
	for _, m := range started {
		for _, n := range m.Nodes {
			if pid, ok := m.PID(n); ok {
				_ = syscall.Kill(pid, syscall.SIGCONT) // a paused node would not stop
			}
			_ = m.StopNode(n, 10*time.Second)
		}
	}
}

// signal sends sig to the processes of nodes (SIGSTOP pauses a network, SIGCONT resumes it).
func signal(m *localnet.Manifest, nodes []localnet.Node, sig syscall.Signal) {
	for _, n := range nodes {
		pid, ok := m.PID(n)
		if !ok {
			must(fmt.Errorf("%s is not running", n.Name))
		}
		must(syscall.Kill(pid, sig))
	}
}

func must(err error) {
	if err != nil {
		fmt.Println("BENCH FAILED:", err)
		stopAll()
		os.Exit(1)
	}
}

// killLeftovers kills node processes an earlier, interrupted run left under dir (their
// PID files), which would otherwise hold the ports.
func killLeftovers(dir string) {
	_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Name() != localnet.PIDFile {
			return nil
		}
		if b, err := os.ReadFile(p); err == nil {
			if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid > 0 {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		return nil
	})
	time.Sleep(500 * time.Millisecond)
}

// sameConfig is the CometBFT configuration both networks run with: CometBFT's defaults
// (timeout_commit 1s, mempool 5,000 txs, block max bytes 21 MiB), metrics off, and the
// per-peer p2p rate limits raised from 5 MB/s to 100 MB/s. The limits are a WAN safeguard;
// on loopback they only throttle block propagation by size, which measures transaction
// size (a vchain tx carries a 96-byte key and signature, a kvstore tx is ~17 bytes), not
// what either application does. --p2p-default keeps CometBFT's limits.
func sameConfig(c *cmtcfg.Config) {
	c.Instrumentation.Prometheus = false
	if !*p2pDefault {
		c.P2P.SendRate, c.P2P.RecvRate = 100_000_000, 100_000_000
	}
}

func clients(nodes []localnet.Node) []*client.Client {
	var cs []*client.Client
	for _, n := range nodes {
		c, err := client.New(n.RPCAddr())
		must(err)
		cs = append(cs, c)
	}
	return cs
}

// procStats reads a process's CPU seconds (user+system) and peak resident memory (MiB).
func procStats(pid int) (cpu float64, peakMiB float64) {
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil {
		f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
		if len(f) > 12 {
			u, _ := strconv.ParseFloat(f[11], 64)
			s, _ := strconv.ParseFloat(f[12], 64)
			cpu = (u + s) / 100 // USER_HZ
		}
	}
	return cpu, statusMiB(pid, "VmHWM:")
}

// statusMiB reads one memory field of a process's /proc status ("VmHWM:" is its peak
// resident memory, "VmRSS:" its resident memory now), in MiB; 0 if it cannot.
func statusMiB(pid int, field string) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) > 1 && f[0] == field {
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb / 1024
		}
	}
	return 0
}

// throughput is one network's result under the load profile.
type throughput struct {
	name string
	r    *loadgen.Report
	cpu  float64 // average cores used per node during the load
	// loadCores is the load tool's cores during the load, and cpuPerTx the CPU the nodes
	// and the load tool spent per committed transaction (µs): on a shared machine the
	// throughput ratio of two networks is the inverse ratio of these.
	loadCores, cpuPerTx float64
	peakMiB             float64 // highest peak RSS of a node
}

// measure runs the load profile on one network: as fast as the nodes accept when rate is
// 0, else rate transactions per second in all.
func measure(ctx context.Context, name string, target loadgen.Target, chainID string, m *localnet.Manifest, nodes []localnet.Node, rate float64, d time.Duration) throughput {
	var pids []int
	for _, n := range nodes {
		pid, _ := m.PID(n)
		pids = append(pids, pid)
	}
	self := os.Getpid() // the load tool runs in this process
	before := make([]float64, len(pids))
	var selfBefore float64
	keys, _ := os.MkdirTemp("", "bench-keys")
	defer os.RemoveAll(keys)
	var t0 time.Time
	r, err := loadgen.Bench(ctx, loadgen.BenchConfig{Target: target, ChainID: chainID, Clients: clients(nodes),
		Senders: *senders, Rate: rate, Duration: d, Drain: 30 * time.Second, KeyDir: keys,
		Presign: presignCount(rate, d),
		OnStart: func() {
			for i, p := range pids {
				before[i], _ = procStats(p)
			}
			selfBefore, _ = procStats(self)
			t0 = time.Now()
		},
		Progress: func(sent, committed int, h int64) {
			fmt.Printf("\r          %s: sent %d, committed %d, height %d   ", name, sent, committed, h)
		}})
	fmt.Println()
	must(err)
	// CPU per second of the measured span (first send to last commit), not of the wait
	// for stragglers after it, when the chain idles.
	el := r.Seconds
	if el <= 0 {
		el = time.Since(t0).Seconds()
	}
	tp := throughput{name: name, r: r}
	var nodesCPU float64
	for i, p := range pids {
		cpu, peak := procStats(p)
		nodesCPU += cpu - before[i]
		tp.peakMiB = max(tp.peakMiB, peak)
	}
	selfCPU, _ := procStats(self)
	tp.cpu = nodesCPU / el / float64(len(pids))
	tp.loadCores = (selfCPU - selfBefore) / el
	if r.Committed > 0 {
		tp.cpuPerTx = (nodesCPU + selfCPU - selfBefore) / float64(r.Committed) * 1e6
	}
	say("%s: %.0f committed tx/s, %.0f txs/block, block interval p50 %.0f ms, latency p50 %.0f ms p99 %.0f ms, %.2f cores/node, load tool %.2f cores, %.0f µs CPU/committed tx, peak %.0f MiB, %d failed",
		name, r.CommittedTPS, perBlock(r), r.IntervalP50, r.LatencyP50, r.LatencyP99, tp.cpu, tp.loadCores, tp.cpuPerTx, tp.peakMiB, r.Failed)
	return tp
}

// presignCount is how many transactions each sender signs before a run's clock starts:
// enough for the run at rate, or at 5,000 tx/s in all (above what either network takes
// here) for a saturating run; past them a sender signs as it sends.
func presignCount(rate float64, d time.Duration) int {
	if rate <= 0 {
		rate = 5000
	}
	return int(rate*d.Seconds())/(*senders) + 1
}

func cli(m *localnet.Manifest, n localnet.Node, args ...string) string {
	o, err := m.Run(*bin, n, args...)
	must(err)
	return o
}

func adminHeight(m *localnet.Manifest, args ...string) int64 {
	h, err := m.AdminTx(*bin, args...)
	must(err)
	return h
}

func headerTimes(c *client.Client, from, to int64) map[int64]time.Time {
	ts := map[int64]time.Time{}
	for h := from; h <= to; h++ {
		hh := h
		b, err := c.RPC.Header(context.Background(), &hh)
		must(err)
		ts[h] = b.Header.Time
	}
	return ts
}

func height(c *client.Client) int64 {
	st, err := c.RPC.Status(context.Background())
	if err != nil {
		return 0
	}
	return st.SyncInfo.LatestBlockHeight
}

func waitHeight(c *client.Client, h int64, timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	for height(c) < h {
		if time.Now().After(deadline) {
			must(fmt.Errorf("height %d not reached in %s", h, timeout))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// switchCost measures the block intervals at a switch under a steady load.
type switchResult struct {
	start      int64
	median     time.Duration
	atStart    [3]time.Duration
	worstRatio float64
	load       loadgen.Result
}

// waitMempoolsEmpty waits until no node holds unconfirmed transactions, so one phase's
// leftovers do not weigh on the next.
func waitMempoolsEmpty(cs []*client.Client, timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	for _, c := range cs {
		for {
			r, err := c.RPC.NumUnconfirmedTxs(context.Background())
			if err == nil && r.Total == 0 {
				break
			}
			if time.Now().After(deadline) {
				say("warning: mempools not empty after %s", timeout)
				return
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
}

func measureSwitch(m *localnet.Manifest, v2 string) switchResult {
	vals := m.Validators()
	cs := clients(vals)
	waitMempoolsEmpty(cs, 60*time.Second)
	keys, _ := os.MkdirTemp("", "bench-keys")
	defer os.RemoveAll(keys)
	load, err := loadgen.Start(m.ChainID, cs, 4, 50*time.Millisecond, keys)
	must(err)
	adminHeight(m, "upgrade", "register", "2", "--file", v2)
	for _, n := range vals {
		cli(m, n, "runtime", "install", v2, "--version", "2")
	}
	start := adminHeight(m, "upgrade", "schedule", "2", "--in", "55") + 55
	say("switch scheduled at height %d (55 blocks ahead, under 80 tx/s)", start)
	for height(cs[0]) < start+3 {
		fmt.Printf("\r          height %d of %d   ", height(cs[0]), start+3)
		time.Sleep(500 * time.Millisecond)
	}
	fmt.Println()
	res, err := load.Stop(cs[0], 60*time.Second)
	must(err)
	ts := headerTimes(cs[0], start-51, start+2)
	var before []time.Duration
	for h := start - 50; h < start; h++ {
		before = append(before, ts[h].Sub(ts[h-1]))
	}
	sort.Slice(before, func(i, j int) bool { return before[i] < before[j] })
	sr := switchResult{start: start, median: before[len(before)/2], load: res}
	for i := int64(0); i < 3; i++ {
		sr.atStart[i] = ts[start+i].Sub(ts[start+i-1])
		sr.worstRatio = max(sr.worstRatio, float64(sr.atStart[i])/float64(sr.median))
	}
	say("switch at %d: intervals %v %v %v vs median %v of the 50 before (worst ratio %.2f); load %+v",
		start, sr.atStart[0], sr.atStart[1], sr.atStart[2], sr.median, sr.worstRatio, res)
	return sr
}

func main() {
	flag.Parse()
	ctx := context.Background()
	v1, v2 := filepath.Join(*contracts, "v1.wasm"), filepath.Join(*contracts, "v2.wasm")
	wasm, err := os.ReadFile(v1)
	must(err)
	killLeftovers(*dir)
	must(os.RemoveAll(*dir))
	must(os.MkdirAll(*dir, 0o755))
	sizes, err := parseSizes(*scale)
	must(err)
	if *only == "scale" {
		fmt.Printf("== vchain with its state preloaded, 4 validators, %d senders, %s of load per size ==\n", *senders, *scaleDuration)
		printScale(scaleRuns(ctx, wasm, sizes))
		stopAll()
		return
	}
	fmt.Printf("== vchain vs CometBFT kvstore, 4 validators each, %d senders, %s of load ==\n", *senders, *duration)

	// 1. Throughput: the load on one network at a time, interleaved (kvstore, vchain,
	// kvstore, ...), so a slow spell of the shared machine falls on both. The other network
	// is paused meanwhile: four idle nodes making empty blocks take about 0.24 of the 2
	// cores, which cost the measured one a tenth of its throughput or more.
	kv, err := newKVNet(*cometbft, filepath.Join(*dir, "kvstore"), 4, 0, 28000, sameConfig)
	must(err)
	started = append(started, kv.m)
	_, err = kv.start(ctx, *cometbft, kv.nodes)
	must(err)
	say("kvstore network up (cometbft %s)", cometVersion())
	waitHeight(clients(kv.nodes)[0], 2, 60*time.Second)

	m, err := localnet.Init(ctx, filepath.Join(*dir, "vchain"), localnet.Options{Validators: 4, ChainID: "bench",
		Runtime: wasm, BasePort: 28100, Tune: sameConfig})
	must(err)
	started = append(started, m)
	for _, n := range m.Nodes {
		_, err := m.StartNode(*bin, n)
		must(err)
	}
	for _, n := range m.Nodes {
		must(m.WaitRPC(ctx, n, 60*time.Second))
	}
	say("vchain network up")
	waitHeight(clients(m.Nodes)[0], 2, 60*time.Second)

	// The idle network is paused (SIGSTOP), not stopped: it keeps its caches and
	// connections, and a restart's cold start does not fall on its next run.
	alone := func(run, idle *localnet.Manifest, runNodes, idleNodes []localnet.Node) {
		signal(idle, idleNodes, syscall.SIGSTOP)
		signal(run, runNodes, syscall.SIGCONT)
		c := clients(runNodes)[0]
		waitHeight(c, height(c)+2, 90*time.Second)
	}
	kvAlone := func() { alone(kv.m, m, kv.nodes, m.Nodes) }
	vcAlone := func() { alone(m, kv.m, m.Nodes, kv.nodes) }
	var tp pairedRuns
	for i := 1; i <= *pairs; i++ {
		kvAlone()
		tp.kv = append(tp.kv, measure(ctx, fmt.Sprintf("kvstore #%d", i), loadgen.KVStore, "", kv.m, kv.nodes, 0, *duration))
		vcAlone()
		tp.vc = append(tp.vc, measure(ctx, fmt.Sprintf("vchain #%d", i), loadgen.Vchain, m.ChainID, m, m.Nodes, 0, *duration))
	}
	// Then both at half of kvstore's median saturated rate: a chain that holds the load
	// commits each transaction within one or two block intervals.
	tp.rate = tp.median(func(t throughput) float64 { return t.r.CommittedTPS }, tp.kv) / 2
	kvAlone()
	tp.kvFixed = measure(ctx, "kvstore fixed", loadgen.KVStore, "", kv.m, kv.nodes, tp.rate, *duration)
	vcAlone()
	tp.vcFixed = measure(ctx, "vchain fixed", loadgen.Vchain, m.ChainID, m, m.Nodes, tp.rate, *duration)
	signal(kv.m, kv.nodes, syscall.SIGCONT)
	kv.stop()
	tp.print()
	if *only == "throughput" {
		stopAll()
		return
	}

	// 2. The switch, on the same vchain network.
	sw := measureSwitch(m, v2)
	for _, n := range m.Nodes {
		_ = m.StopNode(n, 15*time.Second)
	}

	// 3. Replay.
	kvReplay, vcReplay := replay(ctx, wasm, v2)

	// 4. Scale with the state's size.
	var sc []scaleResult
	if len(sizes) > 0 {
		sc = scaleRuns(ctx, wasm, sizes)
		printScale(sc)
	}

	report(tp, sw, kvReplay, vcReplay, sc)
}

func cometVersion() string {
	o, _ := exec.Command(*cometbft, "version").Output()
	return strings.TrimSpace(string(o))
}

func cpuModel() string {
	b, _ := os.ReadFile("/proc/cpuinfo")
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "model name") {
			return strings.TrimSpace(strings.SplitN(l, ":", 2)[1])
		}
	}
	return runtime.GOARCH
}
