// Command demo shows the whole idea of vchain in about two minutes (`make demo`): a
// 4-validator testnet of real processes under a steady client load; runtime v2 installed
// node by node while the chain runs; readiness checked, the switch scheduled a few blocks
// ahead and happening at the same height on every node; then v3, whose migration rewrites
// the stored data at its start height, and back to v2, whose migration converts it back;
// then a downgrade back to v1; and a summary that checks the app hashes and every
// transaction.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/vchain/vchain/app/executor"
	"github.com/vchain/vchain/app/upgrade"
	"github.com/vchain/vchain/internal/client"
	"github.com/vchain/vchain/internal/loadgen"
	"github.com/vchain/vchain/internal/localnet"
)

var (
	bin       = flag.String("bin", "build/vchaind", "the vchaind binary")
	contracts = flag.String("contracts", "build/contracts", "folder with v1.wasm, v2.wasm and v3.wasm")
	dir       = flag.String("dir", ".localnet/demo", "testnet folder (wiped first)")
	basePort  = flag.Int("base-port", 26700, "first port of the testnet")
	keep      = flag.Bool("keep", false, "leave the testnet running at the end")
)

var began = time.Now()

func say(format string, args ...any) {
	fmt.Printf("[%6.1fs] %s\n", time.Since(began).Seconds(), fmt.Sprintf(format, args...))
}

// consoles lists the console addresses of nodes.
func consoles(nodes []localnet.Node) string {
	var out []string
	for _, n := range nodes {
		out = append(out, n.Name+" "+n.ConsoleURL())
	}
	return strings.Join(out, ", ")
}

func fail(format string, args ...any) {
	fmt.Printf("\nDEMO FAILED: %s\n", fmt.Sprintf(format, args...))
	os.Exit(1)
}

type demo struct {
	m       *localnet.Manifest
	clients []*client.Client
	names   []string
}

// cli runs a real vchaind command against node name and returns its stdout.
func (d *demo) cli(name string, args ...string) (string, error) {
	n, _ := d.m.Node(name)
	return d.m.Run(*bin, n, args...)
}

func (d *demo) admin(args ...string) int64 {
	say("admin: vchaind %s", strings.Join(args, " "))
	h, err := d.m.AdminTx(*bin, args...)
	if err != nil {
		fail("%v", err)
	}
	return h
}

func (d *demo) readiness(version uint64) string {
	st, err := d.clients[0].UpgradeStatus(context.Background(), version)
	if err != nil {
		return err.Error()
	}
	r := st.Readiness
	verdict := "not ready"
	if r.Ready {
		verdict = "READY"
	}
	return fmt.Sprintf("%d of %d voting power attested v%d, threshold %s: %s", r.AttestedPower, r.TotalPower, version, r.Threshold, verdict)
}

// watch prints one line per new block until every node has executed height until; load
// may be nil.
func (d *demo) watch(load *loadgen.Load, until int64) {
	ctx := context.Background()
	last := int64(0)
	for {
		st := d.m.StatusAll(ctx, 2*time.Second)
		minH := st[0].Height
		var vs []string
		for _, s := range st {
			minH = min(minH, s.Height)
			v := fmt.Sprintf("v%d", s.HeaderApp)
			if s.Paused {
				v = "PAUSED"
			}
			vs = append(vs, v)
		}
		if st[0].Height != last {
			last = st[0].Height
			sent := 0
			if load != nil {
				sent, _ = load.Sent()
			}
			say("height %-4d runtime per node [%s]  block time %-6s  txs accepted %d",
				last, strings.Join(vs, " "), d.blockTime(last), sent)
		}
		if minH >= until {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (d *demo) blockTime(h int64) string {
	if h < 2 {
		return "-"
	}
	ctx := context.Background()
	a, err1 := d.clients[0].RPC.Block(ctx, &h)
	prev := h - 1
	b, err2 := d.clients[0].RPC.Block(ctx, &prev)
	if err1 != nil || err2 != nil {
		return "?"
	}
	return a.Block.Time.Sub(b.Block.Time).Round(10 * time.Millisecond).String()
}

// migration describes the runtime_migrated event of block h and that block's time.
func (d *demo) migration(h int64) string {
	res, err := d.clients[0].RPC.BlockResults(context.Background(), &h)
	if err != nil {
		return err.Error()
	}
	for _, ev := range res.FinalizeBlockEvents {
		if ev.Type != upgrade.EventRuntimeMigrated {
			continue
		}
		a := map[string]string{}
		for _, at := range ev.Attributes {
			a[at.Key] = at.Value
		}
		return fmt.Sprintf("v%s migrated from v%s: %s keys changed, %s gas; block time %s (same app hash on every node)",
			a["version"], a["from_version"], a["keys_changed"], a["gas_used"], d.blockTime(h))
	}
	return fmt.Sprintf("no %s event at height %d", upgrade.EventRuntimeMigrated, h)
}

// history returns the switch history every node reports, checking they agree.
func (d *demo) history() []executor.HistoryEntry {
	var ref []executor.HistoryEntry
	for i, c := range d.clients {
		var h []executor.HistoryEntry
		if err := c.QueryJSON(context.Background(), "/upgrade/history", &h); err != nil {
			fail("%s: history: %v", d.names[i], err)
		}
		if i == 0 {
			ref = h
		} else if fmt.Sprint(h) != fmt.Sprint(ref) {
			fail("%s's history %v differs from node0's %v", d.names[i], h, ref)
		}
	}
	return ref
}

// sameHashes checks that every node computed the same results and app hash at every
// height, all four up to the highest height one has reached, and returns that height.
func (d *demo) sameHashes() int64 {
	top, err := localnet.SameBlocks(context.Background(), d.m.Nodes)
	if err != nil {
		fail("%v", err)
	}
	return top
}

func main() {
	flag.Parse()
	v1, v2 := filepath.Join(*contracts, "v1.wasm"), filepath.Join(*contracts, "v2.wasm")
	wasm, err := os.ReadFile(v1)
	if err != nil {
		fail("%v (run `make build` first)", err)
	}
	v3 := filepath.Join(*contracts, "v3.wasm")
	for _, f := range []string{v2, v3} {
		if _, err := os.Stat(f); err != nil {
			fail("%v (run `make build` first)", err)
		}
	}
	fmt.Println("== vchain demo: upgrade and downgrade the contract runtime of a running chain ==")
	if err := os.RemoveAll(*dir); err != nil {
		fail("%v", err)
	}
	ctx := context.Background()
	say("creating a 4-validator testnet and a full node in %s (vchaind testnet init)", *dir)
	m, err := localnet.Init(ctx, *dir, localnet.Options{Validators: 4, FullNodes: 1, ChainID: "vchain-demo", Runtime: wasm,
		BasePort: *basePort, TimeoutCommit: 500 * time.Millisecond})
	if err != nil {
		fail("%v", err)
	}
	d := &demo{m: m}
	for _, n := range m.Nodes {
		if _, err := m.StartNode(*bin, n); err != nil {
			fail("%v", err)
		}
	}
	defer func() {
		if !*keep {
			for _, n := range m.Nodes {
				_ = m.StopNode(n, 15*time.Second)
			}
		}
	}()
	for _, n := range m.Nodes {
		if err := m.WaitRPC(ctx, n, 60*time.Second); err != nil {
			fail("%v", err)
		}
		c, _ := client.New(n.RPCAddr())
		d.clients, d.names = append(d.clients, c), append(d.names, n.Name)
	}
	say("5 vchaind processes running, node4 a full node (logs: %s/nodeN/%s); all execute runtime v1", *dir, localnet.LogFile)
	say("web console, live while the demo runs: %s (node0; %s)", m.Nodes[0].ConsoleURL(), consoles(m.Nodes[1:]))
	d.watch(nil, 2)

	load, err := loadgen.Start(m.ChainID, d.clients, 8, 100*time.Millisecond, filepath.Join(*dir, "load-keys"))
	if err != nil {
		fail("%v", err)
	}
	say("client load: 8 senders, one kv.set every 100 ms each, through all 5 nodes")

	d.admin("upgrade", "register", "2", "--file", v2)
	for _, name := range d.names {
		say("%s: vchaind runtime install %s --version 2   (node keeps running; it attests on chain)", name, v2)
		if _, err := d.cli(name, "runtime", "install", v2, "--version", "2"); err != nil {
			fail("%v", err)
		}
		say("    readiness: %s", d.readiness(2))
	}
	start := d.admin("upgrade", "schedule", "2", "--in", "5") + 5
	say("the switch to v2 is scheduled: every node executes v2 from height %d (countdown: %s)", start, m.Nodes[0].ConsoleURL())
	d.watch(load, start+2)

	// A release that changes stored data (issue 14): v3's migration rewrites every bank
	// amount and kv value at its start height, before that block's transactions, and v2's
	// converts them back on the way down.
	d.admin("upgrade", "register", "3", "--file", v3)
	for _, name := range d.names {
		if _, err := d.cli(name, "runtime", "install", v3, "--version", "3"); err != nil {
			fail("%v", err)
		}
	}
	say("v3 installed on every node: %s", d.readiness(3))
	up := d.admin("upgrade", "schedule", "3", "--in", "4") + 4
	say("the switch to v3 is scheduled from height %d: v3 stores bank amounts as 8-byte binary and each kv value after the height it was written; its migration converts the stored data there", up)
	d.watch(load, up+2)
	say("    %s", d.migration(up))
	back := d.admin("upgrade", "schedule", "2", "--in", "3") + 3
	say("back to v2 from height %d: v2's migration converts v3's format back", back)
	d.watch(load, back+2)
	say("    %s", d.migration(back))

	down := d.admin("upgrade", "schedule", "1", "--in", "3") + 3
	say("downgrade to v1 scheduled from height %d", down)
	d.watch(load, down+2)

	// The full node joins the validator set by transaction (issue 13): CometBFT applies the
	// update included at H from H+2.
	n4 := m.Nodes[len(m.Nodes)-1]
	joined := d.admin("validator", "add", "--pubkey", filepath.Join(m.HomeOf(n4), "config", "priv_validator_key.json"),
		"--power", "10", "--operator", n4.Operator, "--moniker", n4.Name)
	say("%s joins the validator set: included at %d, signing from %d", n4.Name, joined, joined+2)
	d.watch(load, joined+3)
	joinedAt := joined + 2
	if vals, err := d.clients[0].RPC.Validators(ctx, &joinedAt, nil, nil); err != nil || len(vals.Validators) != 5 {
		fail("validator set at %d: %v %v", joinedAt, vals, err)
	}
	if out, err := d.cli("node0", "validator", "list"); err == nil {
		fmt.Print(out)
	}

	say("stopping the load and checking every transaction...")
	res, err := load.Stop(d.clients[0], 60*time.Second)
	if err != nil {
		fail("%v", err)
	}
	hist := d.history()
	top := d.sameHashes()

	fmt.Println("\n== summary ==")
	for _, h := range hist {
		fmt.Printf("  from height %-4d runtime v%d (sha256 %s...) on all 5 nodes\n", h.Height, h.Version, h.CodeSHA256[:16])
	}
	fmt.Printf("  header version.app: ")
	for _, h := range []int64{start - 1, start, down - 1, down} {
		b, err := d.clients[0].RPC.Block(ctx, &h)
		if err == nil {
			fmt.Printf("h%d=%d  ", h, b.Block.Version.App)
		}
	}
	fmt.Println()
	fmt.Printf("  block times around the switch: ")
	for h := start - 2; h <= start+2; h++ {
		fmt.Printf("h%d %s  ", h, d.blockTime(h))
	}
	fmt.Println()
	fmt.Printf("  %s joined the validator set at height %d (update included at %d)\n", n4.Name, joinedAt, joined)
	fmt.Printf("  results and app hashes each node computed: identical on all 5 nodes at every height 1..%d\n", top)
	fmt.Printf("  transactions: sent %d, committed %d, failed %d, refused %d, executed by the wrong version %d\n",
		res.Sent, res.Committed, res.Failed, res.Refused, res.WrongVersion)
	if !res.OK() {
		fail("%s", res.FirstError)
	}
	fmt.Printf("  migration at %d: %s\n  migration at %d: %s\n", up, d.migration(up), back, d.migration(back))
	if len(hist) != 5 || hist[1].Height != start || hist[2].Height != up || hist[3].Height != back || hist[4].Height != down {
		fail("unexpected history %v", hist)
	}
	fmt.Println("\nDEMO OK: four runtime switches (two migrating stored data) and a validator joining, no restart, no stop, no failed transaction.")
	if *keep {
		fmt.Printf("the testnet keeps running: vchaind testnet status %s; stop it with vchaind testnet stop %s\n", *dir, *dir)
	}
}
