package executor

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
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
	Since      time.Time `json:"since"`
	// Install is the command that resumes the node.
	Install string `json:"install"`
}

type pauseState struct {
	mu   sync.Mutex
	info *PauseInfo
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
	prof, err := profile.Get(max(eff.Profile, 1)) // 0: a record from before profiles, which ran profile 1's rules
	if err != nil {
		return nil, fmt.Errorf("runtime v%d: %w", eff.Version, err)
	}
	mod, err := e.runtimes.Load(ctx, eff.Version, want, prof)
	if !errors.Is(err, runtime.ErrNotInstalled) {
		return mod, err
	}
	info := &PauseInfo{Height: height, Version: eff.Version, CodeSHA256: want.String(), Since: time.Now(), Install: e.InstallHint(eff.Version)}
	e.pause.mu.Lock()
	e.pause.info = info
	e.pause.mu.Unlock()
	defer func() {
		e.pause.mu.Lock()
		e.pause.info = nil
		e.pause.mu.Unlock()
	}()
	e.log.Error("PAUSED: this node cannot execute the next block without a runtime it has not installed",
		"height", height, "runtime_version", eff.Version, "sha256", info.CodeSHA256, "install", info.Install)
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
		mod, err = e.runtimes.Load(ctx, eff.Version, want, prof)
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
		prof, err := profile.Get(max(p.Profile, 1)) // 0: a record from before profiles, which ran profile 1's rules
		if err == nil {
			_, err = e.runtimes.Load(context.Background(), p.Version, runtime.Hash(p.CodeSha256), prof)
		}
		left := p.StartHeight - height - 1
		switch {
		case errors.Is(err, runtime.ErrNotInstalled):
			e.log.Error("a scheduled runtime switch needs a version this node has not installed: it will pause at the start height",
				"runtime_version", p.Version, "sha256", fmt.Sprintf("%x", p.CodeSha256), "start_height", p.StartHeight,
				"blocks_left", left, "install", e.InstallHint(p.Version))
		case err != nil:
			e.log.Error("the scheduled runtime cannot be loaded", "runtime_version", p.Version, "err", err)
		}
	}()
}
