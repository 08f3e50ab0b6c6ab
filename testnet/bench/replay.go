package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	cmtcfg "github.com/cometbft/cometbft/config"

	"github.com/vchain/vchain/internal/client"
	"github.com/vchain/vchain/internal/localnet"
)

// replayResult is how fast a fresh node caught up with a chain.
type replayResult struct {
	blocks    int64
	seconds   float64
	perSecond float64
	switches  int
}

// fast makes blocks come as quickly as the network allows, to build a long chain: no
// wait after a commit, and gossip and p2p flushes every 10 ms instead of CometBFT's
// default 100 ms (with the defaults, each proposal and each vote round waits for a flush:
// 4 validators make about 3 blocks/s whatever timeout_commit says).
func fast(c *cmtcfg.Config) {
	sameConfig(c)
	c.Consensus.TimeoutCommit = 10 * time.Millisecond
	c.Consensus.PeerGossipSleepDuration = 10 * time.Millisecond
	c.P2P.FlushThrottleTimeout = 10 * time.Millisecond
}

// syncFresh starts node n of m with start, and times it to reach the tip seen at start.
func syncFresh(name string, tip int64, c *client.Client, start func()) replayResult {
	t0 := time.Now()
	start()
	for {
		h := height(c)
		fmt.Printf("\r          %s fresh node at %d of %d   ", name, h, tip)
		if h >= tip {
			break
		}
		if time.Since(t0) > 10*time.Minute {
			must(fmt.Errorf("%s: fresh node did not catch up in 10 minutes", name))
		}
		time.Sleep(100 * time.Millisecond)
	}
	fmt.Println()
	el := time.Since(t0).Seconds()
	r := replayResult{blocks: tip, seconds: el, perSecond: float64(tip) / el}
	say("%s: a fresh node replayed %d blocks in %.1fs: %.0f blocks/s", name, tip, el, r.perSecond)
	return r
}

func buildChain(name string, c *client.Client, until int64, during func(h int64)) {
	for {
		h := height(c)
		fmt.Printf("\r          %s building the chain: %d of %d   ", name, h, until)
		if during != nil {
			during(h)
		}
		if h >= until {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	fmt.Println()
}

// replayDir is where the replay networks live: on tmpfs when the machine has one. Every
// node syncs its WAL and stores each block, and on a slow disk 4 nodes then make about 3
// blocks/s whatever the timeouts, which would make the 2,000-block chain take minutes per
// network. Both apps get the same medium.
func replayDir() string {
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
		return filepath.Join("/dev/shm", "vchain-bench")
	}
	return *dir
}

func replay(ctx context.Context, wasm []byte, v2 string) (kvR, vcR replayResult) {
	rdir := replayDir()
	killLeftovers(rdir)
	must(os.RemoveAll(rdir))
	defer os.RemoveAll(rdir)
	// kvstore: 4 validators build the chain, a fifth node then syncs it from genesis.
	kv, err := newKVNet(*cometbft, filepath.Join(rdir, "kvstore-replay"), 4, 1, 28200, fast)
	must(err)
	started = append(started, kv.m)
	_, err = kv.start(ctx, *cometbft, kv.nodes[:4])
	must(err)
	kc := clients(kv.nodes)
	buildChain("kvstore", kc[0], *replayBlocks, nil)
	kvR = syncFresh("kvstore", height(kc[0]), kc[4], func() {
		_, err := kv.start(ctx, *cometbft, kv.nodes[4:])
		must(err)
	})
	kv.stop()

	// vchain: the same, with a switch to v2 at a third and back to v1 at two thirds.
	m, err := localnet.Init(ctx, filepath.Join(rdir, "vchain-replay"), localnet.Options{Validators: 4, FullNodes: 1,
		ChainID: "bench-replay", Runtime: wasm, BasePort: 28300, Tune: fast})
	must(err)
	started = append(started, m)
	vals := m.Validators()
	for _, n := range vals {
		_, err := m.StartNode(*bin, n)
		must(err)
	}
	for _, n := range vals {
		must(m.WaitRPC(ctx, n, 60*time.Second))
	}
	vc := clients(m.Nodes)
	adminHeight(m, "upgrade", "register", "2", "--file", v2)
	for _, n := range vals {
		cli(m, n, "runtime", "install", v2, "--version", "2")
	}
	first, second := *replayBlocks/3, 2**replayBlocks/3
	adminHeight(m, "upgrade", "schedule", "2", "--height", fmt.Sprint(first))
	downgraded := false
	buildChain("vchain", vc[0], *replayBlocks, func(h int64) {
		if !downgraded && h > first+2 {
			adminHeight(m, "upgrade", "schedule", "1", "--height", fmt.Sprint(max(second, h+5)))
			downgraded = true
		}
	})
	full := m.Nodes[4]
	// The fresh node has both versions installed before it starts (its node is not running:
	// the install does not attest).
	o, err := exec.Command(*bin, "runtime", "install", v2, "--version", "2", "--home", m.HomeOf(full), "--node", full.RPCAddr()).CombinedOutput()
	if err != nil {
		must(fmt.Errorf("install on the fresh node: %v\n%s", err, o))
	}
	vcR = syncFresh("vchain", height(vc[0]), vc[4], func() {
		_, err := m.StartNode(*bin, full)
		must(err)
	})
	var hist []struct{ Height int64 }
	must(vc[4].QueryJSON(ctx, "/upgrade/history", &hist))
	vcR.switches = len(hist) - 1
	for _, n := range m.Nodes {
		_ = m.StopNode(n, 15*time.Second)
	}
	return kvR, vcR
}
