package executor

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/vchain/vchain/app/profile"
	"github.com/vchain/vchain/app/runtime"
	"github.com/vchain/vchain/app/state"
	"github.com/vchain/vchain/app/upgrade"
	statev1 "github.com/vchain/vchain/proto/vchain/state/v1"
)

// PauseInterval is how often a paused node looks for the runtime it waits for.
var PauseInterval = time.Second

// ErrShutdown is returned by a FinalizeBlock that was waiting for a runtime when the node
// was asked to stop. Nothing of the block was written.
var ErrShutdown = errors.New("node shutting down while paused")

// PauseInfo describes a node waiting for a runtime version before executing a block.
type PauseInfo struct {
	Height     int64     `json:"height"`
	Version    uint64    `json:"version"`
	CodeSHA256 string    `json:"code_sha256"`
	Profile    uint32    `json:"profile"`
	Since      time.Time `json:"since"`
	// Reason says what is missing: the module, or a vchaind that carries the profile.
	Reason string `json:"reason"`
	// Install is the command that resumes the node.
	Install string `json:"install"`
	// AutoFetch is the last attempt to fetch the version from peers (runtime.auto_fetch).
	AutoFetch *AutoFetchInfo `json:"auto_fetch,omitempty"`
}

// needs says what this node lacks to execute with the runtime record, or "" when it
// lacks nothing that installing can give: a module not installed, or a profile its binary
// does not carry.
func (e *Executor) needs(version uint64, sha runtime.Hash, prof uint32) (reason, fix string) {
	if !profile.Knows(prof) {
		return fmt.Sprintf("this vchaind knows profiles 1..%d; release v%d needs profile %d: upgrade vchaind", profile.Latest(), version, prof),
			"replace vchaind with a release that carries execution profile " + strconv.FormatUint(uint64(prof), 10) + " and restart the node"
	}
	return fmt.Sprintf("runtime v%d (sha256 %s) is not installed", version, sha), e.InstallHint(version)
}

type pauseState struct {
	mu   sync.Mutex
	info *PauseInfo
	done time.Duration // length of the pauses that ended, for PausedFor
}

// Paused returns what the node is waiting for, or nil when it is not paused.
func (e *Executor) Paused() *PauseInfo {
	e.pause.mu.Lock()
	defer e.pause.mu.Unlock()
	if e.pause.info == nil {
		return nil
	}
	p := *e.pause.info
	return &p
}

// PausedFor reports whether the node is paused now and how long it has been paused in all
// since it started, the current pause included.
func (e *Executor) PausedFor() (paused bool, total time.Duration) {
	e.pause.mu.Lock()
	defer e.pause.mu.Unlock()
	total = e.pause.done
	if e.pause.info != nil {
		total += time.Since(e.pause.info.Since)
	}
	return e.pause.info != nil, total
}

// Shutdown makes a FinalizeBlock that waits for a runtime return ErrShutdown, so the node
// can stop. Call it before stopping CometBFT.
func (e *Executor) Shutdown() { e.stopOnce.Do(func() { close(e.shutdown) }) }

// InstallHint is the command an operator runs to install version into this node.
func (e *Executor) InstallHint(version uint64) string {
	return fmt.Sprintf("vchaind runtime install <FILE> --version %d --home %s", version, filepath.Dir(e.runtimes.Dir()))
}

// loadOrPause returns the module of the effective version. When this node lacks it, it
// pauses before executing any transaction of the block: it writes nothing, says once what
// it needs, and waits until the version is installed, then resumes by itself. A module
// whose bytes do not match the chain's sha256 is an error, never a pause: executing it
// would sign a different app hash.
func (e *Executor) loadOrPause(ctx context.Context, height int64, eff *statev1.EffectiveRuntime) (*runtime.Module, error) {
	want := runtime.Hash(eff.CodeSha256)
	load := func() (*runtime.Module, error) {
		if !profile.Knows(eff.Profile) {
			return nil, runtime.ErrNotInstalled // a binary restart is the only way on
		}
		prof, err := profile.Get(eff.Profile)
		if err != nil {
			return nil, err
		}
		return e.runtimes.Load(ctx, eff.Version, want, prof)
	}
	mod, err := load()
	if !errors.Is(err, runtime.ErrNotInstalled) {
		return mod, err
	}
	reason, fix := e.needs(eff.Version, want, eff.Profile)
	info := &PauseInfo{Height: height, Version: eff.Version, CodeSHA256: want.String(), Profile: eff.Profile, Since: time.Now(), Reason: reason, Install: fix}
	e.pause.mu.Lock()
	e.pause.info = info
	e.pause.mu.Unlock()
	defer func() {
		e.pause.mu.Lock()
		e.pause.done += time.Since(info.Since)
		e.pause.info = nil
		e.pause.mu.Unlock()
	}()
	e.log.Error("PAUSED: this node cannot execute the next block: "+reason,
		"height", height, "runtime_version", eff.Version, "sha256", info.CodeSHA256, "profile", eff.Profile, "fix", info.Install)
	defer e.fetchWhilePaused(info, want)() // with runtime.auto_fetch: from the peers, meanwhile
	t := time.NewTicker(PauseInterval)
	defer t.Stop()
	for {
		select {
		case <-e.shutdown:
			return nil, fmt.Errorf("waiting for runtime v%d: %w", eff.Version, ErrShutdown)
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-t.C:
		}
		mod, err = load()
		if errors.Is(err, runtime.ErrNotInstalled) {
			continue
		}
		if err == nil {
			e.log.Info("RESUMED: runtime installed, executing the block", "height", height, "runtime_version", eff.Version,
				"paused_for", time.Since(info.Since).Round(time.Millisecond).String())
		}
		return mod, err
	}
}

// preparePending runs after each commit, in the background (it never touches consensus
// state): a scheduled version that is installed is compiled now, so the switch block costs
// no more than any other; one that is missing is reported with the blocks left.
func (e *Executor) preparePending() {
	p, err := upgrade.NewKeeper(state.NewCache(e.store)).Pending()
	if err != nil || p == nil {
		return
	}
	if !e.prep.TryLock() {
		return
	}
	height := e.store.Height()
	go func() {
		defer e.prep.Unlock()
		left := p.StartHeight - height - 1
		if !profile.Knows(p.Profile) {
			reason, fix := e.needs(p.Version, runtime.Hash(p.CodeSha256), p.Profile)
			e.log.Error("a scheduled runtime switch needs what this node lacks: it will pause at the start height: "+reason,
				"runtime_version", p.Version, "profile", p.Profile, "start_height", p.StartHeight, "blocks_left", left, "fix", fix)
			return
		}
		prof, err := profile.Get(p.Profile)
		if err == nil {
			_, err = e.runtimes.Load(context.Background(), p.Version, runtime.Hash(p.CodeSha256), prof)
		}
		switch {
		case errors.Is(err, runtime.ErrNotInstalled):
			if e.fetchPending(p, prof) {
				return
			}
			e.log.Error("a scheduled runtime switch needs a version this node has not installed: it will pause at the start height",
				"runtime_version", p.Version, "sha256", fmt.Sprintf("%x", p.CodeSha256), "start_height", p.StartHeight,
				"blocks_left", left, "install", e.InstallHint(p.Version))
		case err != nil:
			e.log.Error("the scheduled runtime cannot be loaded", "runtime_version", p.Version, "err", err)
		}
	}()
}
