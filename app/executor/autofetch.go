package executor

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/vchain/vchain/app/profile"
	"github.com/vchain/vchain/app/runtime"
	statev1 "github.com/vchain/vchain/proto/vchain/state/v1"
)

// Fetcher gets a runtime version this node lacks from elsewhere (its peers) and installs
// it, accepting only bytes that hash to sha. The app knows no network: the node that
// embeds it provides one (runtime.auto_fetch in app.toml) through SetFetcher.
type Fetcher func(ctx context.Context, version uint64, sha runtime.Hash) (FetchReport, error)

// FetchReport says where a Fetcher looked.
type FetchReport struct {
	// Peers are the sources asked, in order.
	Peers []string
	// From is the one the module came from; empty on failure.
	From string
}

// AutoFetchInfo is a paused node's last attempt to fetch the version it waits for.
type AutoFetchInfo struct {
	Tried    time.Time `json:"tried"`
	Attempts int       `json:"attempts"`
	Peers    []string  `json:"peers"`
	Err      string    `json:"error,omitempty"`
}

// FetchRetry is the least time between two attempts to fetch one version.
var FetchRetry = 5 * time.Second

type fetchState struct {
	mu   sync.Mutex
	fn   Fetcher
	last map[uint64]time.Time // when each version was last tried, for FetchRetry
}

// SetFetcher makes the node fetch a runtime it lacks with f, when it pauses for one and
// when a scheduled switch needs one; nil turns that off.
func (e *Executor) SetFetcher(f Fetcher) {
	e.fetch.mu.Lock()
	defer e.fetch.mu.Unlock()
	e.fetch.fn = f
}

// due returns the fetcher if one is set and version was not tried within FetchRetry,
// and marks it tried now.
func (e *Executor) fetchDue(version uint64) Fetcher {
	e.fetch.mu.Lock()
	defer e.fetch.mu.Unlock()
	if e.fetch.fn == nil || time.Since(e.fetch.last[version]) < FetchRetry {
		return nil
	}
	if e.fetch.last == nil {
		e.fetch.last = map[uint64]time.Time{}
	}
	e.fetch.last[version] = time.Now()
	return e.fetch.fn
}

// fetchWhilePaused tries to fetch the version a pause waits for, every FetchRetry until
// it is installed or the pause ends (stop, which waits for the attempt under way). Each
// attempt is logged with when and from whom, and shown in the pause's AutoFetch.
func (e *Executor) fetchWhilePaused(info *PauseInfo, sha runtime.Hash) (stop func()) {
	e.fetch.mu.Lock()
	on := e.fetch.fn != nil && profile.Knows(info.Profile) // a module cannot give a missing profile
	e.fetch.mu.Unlock()
	if !on {
		return func() {}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for attempt := 1; ; attempt++ {
			if f := e.fetchDue(info.Version); f != nil {
				tried := time.Now()
				rep, err := f(ctx, info.Version, sha)
				if ctx.Err() != nil {
					return
				}
				af := &AutoFetchInfo{Tried: tried, Attempts: attempt, Peers: rep.Peers}
				if err != nil {
					af.Err = err.Error()
					e.log.Error("PAUSED: auto_fetch could not get the missing runtime from this node's peers; trying again",
						"height", info.Height, "runtime_version", info.Version, "tried_at", tried.UTC().Format(time.RFC3339),
						"peers", fmt.Sprint(rep.Peers), "retry_in", FetchRetry.String(), "err", err)
				} else {
					e.log.Info("auto_fetch: runtime fetched from a peer and installed; the node resumes",
						"height", info.Height, "runtime_version", info.Version, "tried_at", tried.UTC().Format(time.RFC3339),
						"from", rep.From, "peers", fmt.Sprint(rep.Peers))
				}
				e.pause.mu.Lock()
				if e.pause.info == info {
					info.AutoFetch = af
				}
				e.pause.mu.Unlock()
				if err == nil {
					return
				}
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(FetchRetry):
			}
		}
	}()
	return func() { cancel(); <-done }
}

// fetchPending fetches the version of a scheduled switch this node lacks, at most once
// per FetchRetry, so the node does not pause at the start height. It runs in
// preparePending's background goroutine and reports whether the version is now ready.
func (e *Executor) fetchPending(p *statev1.PendingSwitch, prof profile.Profile) bool {
	f := e.fetchDue(p.Version)
	if f == nil {
		return false
	}
	sha := runtime.Hash(p.CodeSha256)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { // a node asked to stop does not wait for slow peers
		select {
		case <-e.shutdown:
			cancel()
		case <-ctx.Done():
		}
	}()
	tried := time.Now()
	rep, err := f(ctx, p.Version, sha)
	if err == nil {
		_, err = e.runtimes.Load(ctx, p.Version, sha, prof)
	}
	if err != nil {
		e.log.Error("auto_fetch: could not get the runtime of the scheduled switch from this node's peers",
			"runtime_version", p.Version, "start_height", p.StartHeight, "tried_at", tried.UTC().Format(time.RFC3339),
			"peers", fmt.Sprint(rep.Peers), "err", err)
		return false
	}
	e.log.Info("auto_fetch: runtime of the scheduled switch fetched from a peer and installed",
		"runtime_version", p.Version, "start_height", p.StartHeight, "tried_at", tried.UTC().Format(time.RFC3339),
		"from", rep.From, "peers", fmt.Sprint(rep.Peers))
	return true
}
