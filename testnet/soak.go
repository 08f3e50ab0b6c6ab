package testnet

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vchain/vchain/app/executor"
	"github.com/vchain/vchain/internal/client"
	"github.com/vchain/vchain/internal/keyring"
	"github.com/vchain/vchain/internal/loadgen"
	"github.com/vchain/vchain/internal/localnet"
)

// This file holds the parts of the soak test (soak_test.go): a chaos controller that
// kills one validator at a time with SIGKILL and restarts it, senders that count a
// transaction only once a node reported it committed, and the final check that every such
// transaction is in the chain.

// Kill records one kill -9 of a validator and its recovery.
type Kill struct {
	Node string `json:"node"`
	// AcrossSwitch is set for a kill held down until after a switch height, so that the
	// node replays or block-syncs through the switch.
	AcrossSwitch bool `json:"across_switch"`
	// KilledAt and RestartedAt are the network's tip when the process was killed and when
	// it was started again; RestartedAt is the height the node must reach to be recovered.
	KilledAt    int64 `json:"killed_at_height"`
	RestartedAt int64 `json:"restarted_at_height"`
	// Down is how long the process was dead; Recovery is from its restart to its height
	// reaching RestartedAt.
	Down     time.Duration `json:"down_ns"`
	Recovery time.Duration `json:"recovery_ns"`
	// RPCUp is the part of Recovery before the node's RPC answered (start-up: stores,
	// runtimes, CometBFT's handshake replaying what the app had not committed).
	RPCUp time.Duration `json:"rpc_up_ns"`
	// AppAtRestart is the height the victim's app had committed when it restarted (its
	// ABCI handshake): the last height it executed before it died, read on the node itself.
	AppAtRestart int64 `json:"app_at_restart"`
	// Survived is set once the victim was seen at the tip with its own app's hash equal to
	// every other validator's at the same height (JudgeKill); Verdict gives the evidence, or
	// why the kill did not survive.
	Survived bool   `json:"survived"`
	Verdict  string `json:"verdict"`
}

// Chaos kills a random validator with SIGKILL every few seconds and restarts it, one at a
// time: the next victim is chosen only after the previous one has caught up, so 3 of 4
// validators always sign and the chain keeps going. CLI commands run through Use, so that
// the node they talk to is not killed under them.
type Chaos struct {
	p       *ProcNet
	names   []string
	clients map[string]*client.Client
	rng     *rand.Rand
	every   time.Duration
	maxDown time.Duration
	logf    func(string, ...any)
	opts    chaosOptions

	mu    sync.Mutex
	cond  *sync.Cond
	down  string         // the victim, from its kill until it has caught up
	dead  bool           // the victim's process is not running
	busy  map[string]int // commands in flight per node
	kills []Kill
	err   error

	across   chan int64
	stop     chan struct{}
	done     chan struct{}
	stopOnce sync.Once
}

// StartChaos starts killing the named validators of p: a victim stays dead for a random
// time up to maxDown, and the next kill comes every after the previous victim caught up.
// Victims and down times come from a rand.Rand seeded with seed.
func StartChaos(p *ProcNet, names []string, seed int64, every, maxDown time.Duration, logf func(string, ...any)) (*Chaos, error) {
	return startChaos(p, names, seed, every, maxDown, logf, chaosOptions{recoverWithin: 2 * time.Minute})
}

// chaosOptions are the knobs a test of the chaos itself turns.
type chaosOptions struct {
	// recoverWithin is how long a restarted victim has to be seen at the tip.
	recoverWithin time.Duration
	// noRestart leaves the victim of this kill (counted from 1) dead, so that the test
	// sees a kill that does not survive; 0: every victim is restarted.
	noRestart int
}

func startChaos(p *ProcNet, names []string, seed int64, every, maxDown time.Duration, logf func(string, ...any), opts chaosOptions) (*Chaos, error) {
	c := &Chaos{p: p, names: names, clients: map[string]*client.Client{}, rng: rand.New(rand.NewSource(seed)),
		every: every, maxDown: maxDown, logf: logf, opts: opts, busy: map[string]int{},
		across: make(chan int64, 1), stop: make(chan struct{}), done: make(chan struct{})}
	c.cond = sync.NewCond(&c.mu)
	for _, name := range names {
		n, ok := p.M.Node(name)
		if !ok {
			return nil, fmt.Errorf("no node %s", name)
		}
		cl, err := client.New(n.RPCAddr())
		if err != nil {
			return nil, err
		}
		c.clients[name] = cl
	}
	go c.run()
	return c, nil
}

// Use runs fn while the node called name is not killed. It first waits until the node is
// up and caught up, or, with allowDead, only until it is either up or dead (not restarting):
// installing a runtime is a file operation a dead node's home takes too.
func (c *Chaos) Use(name string, allowDead bool, fn func() error) error {
	c.mu.Lock()
	for c.down == name && !(allowDead && c.dead) && c.err == nil {
		c.cond.Wait()
	}
	if c.err != nil { // its victim may never come back: nothing waits on it
		err := c.err
		c.mu.Unlock()
		return fmt.Errorf("the chaos stopped: %w", err)
	}
	c.busy[name]++
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.busy[name]--
		c.cond.Broadcast()
		c.mu.Unlock()
	}()
	return fn()
}

// KillAcross asks for the next kill to happen a block or two before height and to keep
// its victim dead until the network is past height.
func (c *Chaos) KillAcross(height int64) { c.across <- height }

// Kills returns the kills so far.
func (c *Chaos) Kills() []Kill {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Kill(nil), c.kills...)
}

// Err returns the error that stopped the chaos early, if any.
func (c *Chaos) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Stop lets the current kill finish (its victim restarted and caught up), stops killing,
// and returns every kill and the first error (a node that did not come back).
func (c *Chaos) Stop() ([]Kill, error) {
	c.stopOnce.Do(func() { close(c.stop) })
	<-c.done
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Kill(nil), c.kills...), c.err
}

// acrossMargin is how many blocks before a switch ordinary kills stop, so that the kill
// held across it is not late: a kill and its recovery take a few blocks.
const acrossMargin = 12

func (c *Chaos) run() {
	defer close(c.done)
	var across int64 // a switch height to kill across, 0 for none
	next := time.Now().Add(c.every)
	for {
		select {
		case <-c.stop:
			return
		case across = <-c.across:
		case <-time.After(200 * time.Millisecond):
		}
		var err error
		switch {
		case across > 0 && c.Tip() >= across-acrossMargin:
			err = c.cycle(across)
			across = 0
		case time.Now().After(next):
			err = c.cycle(0)
		default:
			continue
		}
		if err != nil {
			c.mu.Lock()
			c.err = err
			c.down = ""
			c.cond.Broadcast() // Use gives up on a victim that may never come back
			c.mu.Unlock()
			return
		}
		next = time.Now().Add(c.every)
	}
}

// Heights returns each named node's latest height, -1 for a node that does not answer.
func (c *Chaos) Heights() map[string]int64 { return c.heightsOf(c.names) }

func (c *Chaos) heightsOf(names []string) map[string]int64 {
	out := make(map[string]int64, len(names))
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, name := range names {
		wg.Add(1)
		go func(name string) {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			h := int64(-1)
			if st, err := c.clients[name].RPC.Status(ctx); err == nil {
				h = st.SyncInfo.LatestBlockHeight
			}
			mu.Lock()
			out[name] = h
			mu.Unlock()
		}(name)
	}
	wg.Wait()
	return out
}

// Tip returns the highest height any named node reports.
func (c *Chaos) Tip() int64 {
	tip := int64(0)
	for _, h := range c.Heights() {
		tip = max(tip, h)
	}
	return tip
}

// waitTip waits until the tip reaches h; it gives up early when stopped (early is true).
func (c *Chaos) waitTip(h int64, timeout time.Duration) (early bool, err error) {
	deadline := time.Now().Add(timeout)
	for c.Tip() < h {
		select {
		case <-c.stop:
			return true, nil
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return false, fmt.Errorf("the network did not reach height %d in %s (tip %d)", h, timeout, c.Tip())
		}
	}
	return false, nil
}

// cycle kills one victim, restarts it and waits until it caught up. across > 0 makes it a
// kill held across that height.
func (c *Chaos) cycle(across int64) error {
	if across > 0 {
		if _, err := c.waitTip(across-2, 2*time.Minute); err != nil {
			return err
		}
	}
	c.mu.Lock()
	var cands []string
	for _, n := range c.names {
		if c.busy[n] == 0 {
			cands = append(cands, n)
		}
	}
	if len(cands) == 0 {
		c.mu.Unlock()
		return nil
	}
	victim := cands[c.rng.Intn(len(cands))]
	downFor := c.maxDown/4 + time.Duration(c.rng.Int63n(int64(c.maxDown-c.maxDown/4)+1))
	c.down, c.dead = victim, true
	c.mu.Unlock()

	node, _ := c.p.M.Node(victim)
	k := Kill{Node: victim, KilledAt: c.Tip(), AcrossSwitch: across > 0}
	if err := c.p.M.KillNode(node); err != nil {
		return fmt.Errorf("kill %s: %w", victim, err)
	}
	killed := time.Now()
	var holdErr error
	if across > 0 {
		_, holdErr = c.waitTip(across+1, 2*time.Minute)
	} else {
		select {
		case <-time.After(downFor):
		case <-c.stop:
		}
	}
	c.mu.Lock()
	for c.busy[victim] > 0 { // an install into the dead node's home is still running
		c.cond.Wait()
	}
	c.dead = false
	c.mu.Unlock()

	k.RestartedAt = c.Tip()
	k.Down = time.Since(killed)
	logPath := filepath.Join(c.p.M.HomeOf(node), localnet.LogFile)
	logStart := int64(0)
	if st, err := os.Stat(logPath); err == nil {
		logStart = st.Size()
	}
	verdict, why := KillPending, ""
	if c.opts.noRestart == len(c.kills)+1 {
		c.logf("kill %d: %s is left dead (a test of the kill accounting)", len(c.kills)+1, victim)
	} else if _, err := c.p.M.StartNode(c.p.Bin, node); err != nil {
		why = fmt.Sprintf("restart: %v", err)
	}
	if why == "" {
		verdict, why = c.watchRecovery(&k, victim)
	}
	k.Survived, k.Verdict = verdict == KillSurvived, why
	if _, running := c.p.M.PID(node); !running && verdict == KillPending {
		k.Verdict += fmt.Sprintf("; its process is not running (see %s)", logPath)
	}
	if k.RPCUp > 0 {
		if h, err := HandshakeHeight(logPath, logStart); err != nil {
			c.logf("kill %s: %v", victim, err)
		} else {
			k.AppAtRestart = h
		}
	}
	c.mu.Lock()
	c.kills = append(c.kills, k)
	if k.Survived {
		c.down = ""
		c.cond.Broadcast()
	}
	c.mu.Unlock()
	if !k.Survived {
		return fmt.Errorf("kill %d: %s did not survive: %s", len(c.kills), victim, k.Verdict)
	}
	c.logf("kill %d: %s killed at height %d (its app at %d), down %s, restarted at %d, RPC up in %s, caught up in %s%s; %s", len(c.kills), victim,
		k.KilledAt, k.AppAtRestart, k.Down.Round(time.Millisecond), k.RestartedAt, k.RPCUp.Round(time.Millisecond), k.Recovery.Round(time.Millisecond),
		map[bool]string{true: " (held across a switch)"}[k.AcrossSwitch], k.Verdict)
	return holdErr
}

// watchRecovery looks at the network until the restarted victim is seen at the tip with
// its own app hash equal to the others' (JudgeKill), its process has exited, or
// recoverWithin has passed; it fills k's timings. What it returns is the kill's verdict.
func (c *Chaos) watchRecovery(k *Kill, victim string) (KillVerdict, string) {
	node, _ := c.p.M.Node(victim)
	others := slices.DeleteFunc(slices.Clone(c.names), func(n string) bool { return n == victim })
	started := time.Now()
	var looks []KillLook
	for {
		// The victim first: heights only grow, so others no higher than it when read after
		// it were no higher at the moment it was read.
		l := KillLook{Victim: c.heightsOf([]string{victim})[victim]}
		l.Others = c.heightsOf(others)
		if l.Victim >= 0 && k.RPCUp == 0 {
			k.RPCUp = time.Since(started)
		}
		if l.Victim >= k.RestartedAt && k.Recovery == 0 {
			k.Recovery = time.Since(started)
		}
		if l.AtTip() {
			c.readAppHashes(&l, victim)
		}
		looks = append(looks, l)
		verdict, why := JudgeKill(looks)
		if verdict != KillPending {
			return verdict, why
		}
		if _, running := c.p.M.PID(node); !running {
			return verdict, why
		}
		if time.Since(started) > c.opts.recoverWithin {
			return verdict, fmt.Sprintf("%s within %s of its restart", why, c.opts.recoverWithin)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// readAppHashes fills l with the victim's own last app height and hash, and the hash each
// other validator that answered computed for that height; one that has not reached it yet
// is given a few seconds.
func (c *Chaos) readAppHashes(l *KillLook, victim string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	h, hash, err := AppInfo(ctx, c.clients[victim])
	if err != nil || h <= 0 {
		return
	}
	l.AppHeight, l.AppHash, l.PeerHashes = h, hash, map[string]string{}
	for name, oh := range l.Others {
		if oh < 0 {
			continue
		}
		for try := 0; try < 30; try++ {
			if ph, err := AppHashAt(ctx, c.clients[name], h); err == nil {
				l.PeerHashes[name] = ph
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
}

// SoakTx is a transaction a node reported committed with code 0.
type SoakTx struct {
	Hash    []byte
	Height  int64
	Sender  int
	Nonce   uint64
	Key     string
	Value   string
	Version string // runtime_version of its result
}

// SoakSender sends kv.set calls through one node (a node's mempool counts the sender's
// pending nonces; another node may not have seen them), a batch at a time, and awaits each
// one. When its node is killed it pauses, and takes its next nonce from the node again
// once the node answers; what was in the killed node's mempool is counted unconfirmed, not
// committed.
type SoakSender struct {
	ID   int
	Node string

	c       *client.Client
	key     *keyring.Key
	chainID string
	batch   int
	acked   *atomic.Int64

	// Sent counts transactions a node admitted to its mempool; Refused, those it refused
	// (CheckTx); Unreachable, broadcasts to a node that was down; Unconfirmed, admitted
	// transactions not seen committed within the wait; Failed, committed with a non-zero
	// code.
	Sent, Refused, Unreachable, Unconfirmed, Failed int
	FirstError                                      string
	Acked                                           []SoakTx
	// Unacked holds the hashes of the unconfirmed transactions.
	Unacked [][]byte
}

// SoakLoad is a set of SoakSenders.
type SoakLoad struct {
	Senders []*SoakSender
	Acked   atomic.Int64
	stop    chan struct{}
	wg      sync.WaitGroup
	once    sync.Once
}

// StartSoakLoad starts senders, spread over the named nodes of p, keys in keyDir.
func StartSoakLoad(p *ProcNet, names []string, senders, batch int, keyDir string) (*SoakLoad, error) {
	l := &SoakLoad{stop: make(chan struct{})}
	kr := keyring.Open(keyDir)
	for i := 0; i < senders; i++ {
		name := names[i%len(names)]
		n, ok := p.M.Node(name)
		if !ok {
			return nil, fmt.Errorf("no node %s", name)
		}
		c, err := client.New(n.RPCAddr())
		if err != nil {
			return nil, err
		}
		key, err := kr.Add(fmt.Sprintf("soak%d", i))
		if err != nil {
			return nil, fmt.Errorf("sender key: %w", err)
		}
		s := &SoakSender{ID: i, Node: name, c: c, key: key, chainID: p.M.ChainID, batch: batch, acked: &l.Acked}
		l.Senders = append(l.Senders, s)
	}
	for _, s := range l.Senders {
		l.wg.Add(1)
		go func(s *SoakSender) {
			defer l.wg.Done()
			s.run(l.stop)
		}(s)
	}
	return l, nil
}

// Stop stops the senders once their current batch is settled.
func (l *SoakLoad) Stop() {
	l.once.Do(func() { close(l.stop) })
	l.wg.Wait()
}

func (s *SoakSender) note(format string, args ...any) {
	if s.FirstError == "" {
		s.FirstError = fmt.Sprintf("sender %d (%s): %s", s.ID, s.Node, fmt.Sprintf(format, args...))
	}
}

func (s *SoakSender) run(stop <-chan struct{}) {
	ctx := context.Background()
	nonce := uint64(0) // the next nonce to sign; 0: ask the node
	for i := 0; ; {
		select {
		case <-stop:
			return
		default:
		}
		if nonce == 0 {
			a, err := s.c.Account(ctx, s.key.Address)
			if err != nil { // the node is down or restarting: pause
				time.Sleep(200 * time.Millisecond)
				continue
			}
			nonce = a.NextNonce
		}
		type sent struct {
			hash       []byte
			nonce      uint64
			key, value string
		}
		var batch []sent
		for k := 0; k < s.batch; k++ {
			i++
			key, value := fmt.Sprintf("soak%d-%d", s.ID, i), fmt.Sprintf("%d@%d", i, nonce)
			bctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			raw, _, err := s.c.SignCall(bctx, s.key, client.CallTx{ChainID: s.chainID, Contract: "kv", Method: "set",
				GasLimit: loadgen.CallGas, Nonce: nonce, Args: []byte(fmt.Sprintf(`{"key":%q,"value":%q}`, key, value))})
			var h []byte
			if err == nil {
				h, err = s.c.Broadcast(bctx, raw)
			}
			cancel()
			var ce *client.CheckTxError
			switch {
			case errors.As(err, &ce):
				s.Refused++
				s.note("refused: %v", err)
			case err != nil:
				s.Unreachable++
			default:
				s.Sent++
				batch = append(batch, sent{h, nonce, key, value})
				nonce++
				continue
			}
			nonce = 0
			break
		}
		deadline := time.Now().Add(30 * time.Second) // for the batch: its nonces commit in order or not at all
		for _, b := range batch {
			res, err := s.c.WaitTx(ctx, b.hash, max(time.Until(deadline), time.Second))
			switch {
			case err != nil:
				s.Unconfirmed++
				s.Unacked = append(s.Unacked, b.hash)
				nonce = 0
			case res.TxResult.Code != 0:
				s.Failed++
				s.note("tx %X failed at height %d: %s", b.hash, res.Height, res.TxResult.Log)
				nonce = 0
			default:
				s.Acked = append(s.Acked, SoakTx{Hash: b.hash, Height: res.Height, Sender: s.ID, Nonce: b.nonce,
					Key: b.key, Value: b.value, Version: client.RuntimeVersion(&res.TxResult)})
				s.acked.Add(1)
			}
		}
		if nonce == 0 {
			time.Sleep(200 * time.Millisecond)
		}
	}
}

// VerifyAcked checks every transaction the senders saw committed against the chain
// through clients (one per node): it is in the block at the height its node reported,
// with code 0 in that block's results, executed by the runtime version the history names
// for that height; its kv value is in every node's state; and every node's committed nonce
// of its sender is at least its nonce. It returns how many transactions fail a check (the
// lost ones) and a line per failure.
func VerifyAcked(ctx context.Context, clients []*client.Client, hist []executor.HistoryEntry, senders []*SoakSender) (int, []string, error) {
	var problems []string
	bad := map[string]bool{}
	lost := func(t SoakTx, format string, args ...any) {
		bad[string(t.Hash)] = true
		problems = append(problems, fmt.Sprintf("tx %X (sender %d nonce %d, height %d): %s", t.Hash, t.Sender, t.Nonce, t.Height, fmt.Sprintf(format, args...)))
	}
	versionAt := func(h int64) string { return strconv.FormatUint(executor.VersionAt(hist, h), 10) }
	byHeight := map[int64][]SoakTx{}
	for _, s := range senders {
		for _, t := range s.Acked {
			byHeight[t.Height] = append(byHeight[t.Height], t)
		}
	}
	heights := make([]int64, 0, len(byHeight))
	for h := range byHeight {
		heights = append(heights, h)
	}
	sort.Slice(heights, func(i, j int) bool { return heights[i] < heights[j] })
	for _, h := range heights {
		c := clients[int(h)%len(clients)] // blocks and results are the same everywhere (CheckConsistency): spread the reads
		b, err := c.RPC.Block(ctx, &h)
		if err != nil {
			return 0, nil, fmt.Errorf("block %d: %w", h, err)
		}
		res, err := c.RPC.BlockResults(ctx, &h)
		if err != nil {
			return 0, nil, fmt.Errorf("block results %d: %w", h, err)
		}
		at := map[string]int{}
		for i, raw := range b.Block.Txs {
			at[string(raw.Hash())] = i
		}
		for _, t := range byHeight[h] {
			i, ok := at[string(t.Hash)]
			switch {
			case !ok:
				lost(t, "not in block %d", h)
			case i >= len(res.TxsResults) || res.TxsResults[i].Code != 0:
				lost(t, "block %d's results do not say code 0", h)
			case t.Version != versionAt(h):
				lost(t, "executed by runtime %q, the history says %s", t.Version, versionAt(h))
			}
		}
	}
	for i, c := range clients {
		for _, s := range senders {
			var top SoakTx
			for _, t := range s.Acked {
				v, err := c.Query(ctx, "/state/kv", []byte(t.Key))
				if err != nil {
					lost(t, "node %d: kv %q: %v", i, t.Key, err)
				} else if string(v.Value) != t.Value {
					lost(t, "node %d: kv %q is %q, want %q", i, t.Key, v.Value, t.Value)
				}
				if t.Nonce > top.Nonce {
					top = t
				}
			}
			a, err := c.Account(ctx, s.key.Address)
			if err != nil {
				return 0, nil, fmt.Errorf("account of sender %d: %w", s.ID, err)
			}
			if a.Nonce < top.Nonce {
				lost(top, "node %d: the sender's committed nonce is %d", i, a.Nonce)
			}
		}
	}
	return len(bad), problems, nil
}
