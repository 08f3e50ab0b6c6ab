package main

import (
	"bufio"
	"context"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	cmtcfg "github.com/cometbft/cometbft/config"

	"github.com/vchain/vchain/internal/loadgen"
	"github.com/vchain/vchain/internal/localnet"
)

// scaleResult is one vchain network measured with its state preloaded to keys keys.
type scaleResult struct {
	keys    int
	startup time.Duration // from the first node's start until every node has committed height 4 (the keys are durable)
	tp      throughput
	// Per block of the load run, from node0's metrics: FinalizeBlock's execution, Commit
	// on the consensus path, and the background save that makes the block durable.
	execMs, commitMs, saveMs float64
	appStoreMiB, dataMiB     float64 // node0's app store and its whole data folder, after the run
	rssMiB                   float64 // node0's resident memory at the end of the load
}

// scaleRuns measures throughput, commit time and disk use with the state preloaded to each
// of sizes keys, one fresh 4-validator network per size, the state written through the
// genesis's app_state.contract_state (kv keys "pre-NNNNNNN" with 32-byte values).
func scaleRuns(ctx context.Context, wasm []byte, sizes []int) []scaleResult {
	var out []scaleResult
	for _, n := range sizes {
		out = append(out, scaleRun(ctx, wasm, n))
	}
	return out
}

func scaleRun(ctx context.Context, wasm []byte, keys int) scaleResult {
	kv := make(map[string]string, keys)
	for i := 0; i < keys; i++ {
		kv[fmt.Sprintf("pre-%07d", i)] = fmt.Sprintf("value-%026d", i)
	}
	d := filepath.Join(*dir, fmt.Sprintf("scale-%d", keys))
	say("scale %d keys: writing the genesis", keys)
	m, err := localnet.Init(ctx, d, localnet.Options{Validators: 4, ChainID: "scale", Runtime: wasm, BasePort: 28200,
		Tune:          func(c *cmtcfg.Config) { sameConfig(c); c.Instrumentation.Prometheus = true },
		ContractState: map[string]map[string]string{"kv": kv}})
	must(err)
	kv = nil
	started = append(started, m)
	t0 := time.Now()
	for _, n := range m.Nodes {
		_, err := m.StartNode(*bin, n)
		must(err)
	}
	for _, n := range m.Nodes {
		must(m.WaitRPC(ctx, n, 15*time.Minute))
	}
	// The genesis's keys are saved in the background after InitChain's block, and the
	// block after waits for that save, so a node that has committed height 4 holds them
	// durably: measuring before that would time the preload, not the chain.
	cs := clients(m.Nodes)
	for _, c := range cs {
		waitHeight(c, 4, 15*time.Minute)
	}
	r := scaleResult{keys: keys, startup: time.Since(t0)}
	say("scale %d keys: network up in %.1f s; idle for %s", keys, r.startup.Seconds(), *scaleSettle)
	// A bulk import leaves the store compacting for a while (pebble, on every node at
	// once): that is the preload's cost, not a state of this size's, so the load waits.
	time.Sleep(*scaleSettle)
	metricsURL := fmt.Sprintf("http://127.0.0.1:%d/metrics", m.Nodes[0].Metrics)
	before := scrape(metricsURL)
	r.tp = measure(ctx, fmt.Sprintf("vchain, %d keys", keys), loadgen.Vchain, m.ChainID, m, m.Nodes, 0, *scaleDuration)
	after := scrape(metricsURL)
	if pid, ok := m.PID(m.Nodes[0]); ok {
		r.rssMiB = statusMiB(pid, "VmRSS:")
	}
	msPerBlock := func(name string) float64 {
		c := after[name+"_count"] - before[name+"_count"]
		if c == 0 {
			return 0
		}
		return (after[name+"_sum"] - before[name+"_sum"]) / c * 1000
	}
	r.execMs = msPerBlock("vchain_execution_block_duration_seconds")
	r.commitMs = msPerBlock("vchain_state_commit_duration_seconds")
	r.saveMs = msPerBlock("vchain_state_save_duration_seconds")
	for _, n := range m.Nodes {
		_ = m.StopNode(n, 30*time.Second)
	}
	data := filepath.Join(m.HomeOf(m.Nodes[0]), "data")
	r.appStoreMiB, r.dataMiB = duMiB(filepath.Join(data, "vchain.db")), duMiB(data)
	say("scale %d keys: FinalizeBlock %.0f ms, Commit %.1f ms, save %.0f ms per block; app store %.0f MiB, data %.0f MiB; RSS %.0f MiB",
		keys, r.execMs, r.commitMs, r.saveMs, r.appStoreMiB, r.dataMiB, r.rssMiB)
	must(os.RemoveAll(d))
	return r
}

// scrape reads a Prometheus text page into name -> value, summing a series' label sets.
func scrape(url string) map[string]float64 {
	out := map[string]float64{}
	res, err := http.Get(url)
	if err != nil {
		say("warning: metrics at %s: %v", url, err)
		return out
	}
	defer res.Body.Close()
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		name, rest, _ := strings.Cut(line, " ")
		if i := strings.IndexByte(name, '{'); i >= 0 {
			name = name[:i]
			rest = line[strings.LastIndexByte(line, ' ')+1:]
		}
		if v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64); err == nil {
			out[name] += v
		}
	}
	return out
}

// duMiB is the size of the files under p, in MiB.
func duMiB(p string) float64 {
	var n int64
	_ = filepath.WalkDir(p, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return float64(n) / (1 << 20)
}

// printScale writes the scale part's summary to the console.
func printScale(rs []scaleResult) {
	fmt.Println("state keys | committed tx/s | vs smallest | FinalizeBlock ms/block | Commit ms/block | save ms/block | app store MiB | RSS MiB | start-up s")
	for _, r := range rs {
		fmt.Printf("%d | %.0f | %.2f | %.0f | %.1f | %.0f | %.0f | %.0f | %.1f\n", r.keys, r.tp.r.CommittedTPS,
			ratio(r.tp.r.CommittedTPS, rs[0].tp.r.CommittedTPS), r.execMs, r.commitMs, r.saveMs, r.appStoreMiB, r.rssMiB, r.startup.Seconds())
	}
}

// parseSizes reads --scale's comma-separated key counts.
func parseSizes(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n < 1 || n > 10_000_000 {
			return nil, fmt.Errorf("--scale %q: want key counts from 1 to 10,000,000, comma-separated", s)
		}
		out = append(out, n)
	}
	return out, nil
}
