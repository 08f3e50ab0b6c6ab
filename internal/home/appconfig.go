package home

import (
	"fmt"
	"os"
	"strings"

	"github.com/spf13/viper"

	"github.com/vchain/vchain/app/runtime"
	"github.com/vchain/vchain/app/state"
)

// AppConfig is config/app.toml: settings of this node's app that are not consensus rules
// (those live in the genesis). Each key can be overridden by VCHAIN_<KEY> (upper case, dots
// as underscores) and by the start command's flags.
type AppConfig struct {
	// DBBackend is the app store's cosmos-db backend: pebble or goleveldb.
	DBBackend string `mapstructure:"db_backend"`
	// ABCI is "embedded" (CometBFT in this process) or "socket" (serve an external cometbft).
	ABCI string `mapstructure:"abci"`
	// ABCIAddress is where socket mode listens.
	ABCIAddress string `mapstructure:"abci_address"`
	// RuntimeCacheDir holds compiled runtime code; empty means runtime/cache in the home.
	// Nodes on one machine may share one.
	RuntimeCacheDir string `mapstructure:"runtime_cache_dir"`
	// Pruning bounds the state versions the node keeps.
	Pruning PruningConfig `mapstructure:"pruning"`
	// Console is the read-only web console ([console] in app.toml).
	Console ConsoleConfig `mapstructure:"console"`
	// Snapshot is state sync snapshot taking ([snapshot] in app.toml).
	Snapshot SnapshotConfig `mapstructure:"snapshot"`
	// Runtime is [runtime] in app.toml.
	Runtime RuntimeConfig `mapstructure:"runtime"`
	// Execution is [execution] in app.toml.
	Execution ExecutionConfig `mapstructure:"execution"`
}

// ExecutionConfig is the [execution] table of app.toml.
type ExecutionConfig struct {
	// Optimistic executes an accepted proposal while the votes on it go round, and uses
	// that result if the block is decided (abci/optimistic.go). It changes no result.
	Optimistic bool `mapstructure:"optimistic"`
}

// RuntimeConfig is the [runtime] table of app.toml.
type RuntimeConfig struct {
	// AutoFetch makes the node fetch a runtime version it lacks from its peers, by itself.
	AutoFetch bool `mapstructure:"auto_fetch"`
	// FetchFrom is a comma-separated list of RPC addresses auto_fetch asks besides the
	// connected peers: the only ones it can ask while the node waits before starting
	// CometBFT. (A string, so AppConfig stays comparable.)
	FetchFrom string `mapstructure:"fetch_from"`
}

// SnapshotConfig is the [snapshot] table of app.toml.
type SnapshotConfig struct {
	// Interval takes a state sync snapshot every this many heights; 0: none.
	Interval int64 `mapstructure:"interval"`
	// KeepRecent is how many snapshots are kept (the newest).
	KeepRecent int `mapstructure:"keep_recent"`
}

// DefaultSnapshotKeepRecent is how many snapshots a node keeps unless told otherwise.
const DefaultSnapshotKeepRecent = 2

// PruningConfig is the [pruning] table of app.toml.
type PruningConfig struct {
	// KeepRecent is how many recent heights of state the node keeps, to serve queries and
	// proofs at those heights; older ones are deleted after each commit. 0 keeps all.
	KeepRecent int64 `mapstructure:"keep_recent"`
}

// ConsoleConfig is the [console] table of app.toml.
type ConsoleConfig struct {
	// Laddr is where the console listens (host:port); empty: no console. A bare ":port"
	// binds 127.0.0.1.
	Laddr string `mapstructure:"laddr"`
}

// DefaultAppConfig returns the defaults.
func DefaultAppConfig() AppConfig {
	return AppConfig{DBBackend: "pebble", ABCI: "embedded", ABCIAddress: "tcp://127.0.0.1:26658",
		Pruning: PruningConfig{KeepRecent: state.DefaultKeepRecent}, Snapshot: SnapshotConfig{KeepRecent: DefaultSnapshotKeepRecent},
		Execution: ExecutionConfig{Optimistic: true}}
}

const appConfigTemplate = `# vchain app settings. Consensus rules are in genesis.json, not here.
# Every key can be overridden by an environment variable VCHAIN_<KEY> (e.g. VCHAIN_DB_BACKEND)
# and by the flag of the same name on 'vchaind start'.

# Store backend of the app state: "pebble" (default) or "goleveldb".
db_backend = %q

# "embedded": CometBFT runs inside vchaind (default).
# "socket": vchaind serves only the app on abci_address, for an external
# 'cometbft node --proxy_app=<abci_address>'.
abci = %q
abci_address = %q

# Compiled runtime code. Empty: runtime/cache in this home. Nodes on one machine may share
# one directory (entries are content-addressed and written atomically).
runtime_cache_dir = %q

[pruning]
# Recent heights of state kept for queries and proofs at those heights (env
# VCHAIN_PRUNING_KEEP_RECENT); older ones are deleted after each commit. 0 keeps all;
# otherwise at least 2.
keep_recent = %d

[snapshot]
# Take a state sync snapshot every this many heights, in the background after the commit
# (env VCHAIN_SNAPSHOT_INTERVAL); 0: none. Snapshots are kept in data/snapshots and served
# to nodes joining by state sync ('vchaind init --state-sync'). Each carries the state and
# the runtime modules the next blocks need.
interval = %d
# How many of the newest snapshots are kept (env VCHAIN_SNAPSHOT_KEEP_RECENT).
keep_recent = %d

[console]
# The read-only web console (network, runtime timeline, this node, recent blocks), fed by
# this node's RPC. Empty: off. "127.0.0.1:26670" serves it on this machine only; name
# another host (e.g. "0.0.0.0:26670") only behind access control you trust.
laddr = %q

[runtime]
# Fetch a runtime version this node lacks from its peers, by itself, when it would pause
# for it or sees a scheduled switch to it (env VCHAIN_RUNTIME_AUTO_FETCH); the pause log
# says when it tried and from whom. A module is accepted only if it hashes to the sha256
# the chain records for the release. The node does not attest it: 'vchaind runtime attest'.
# Peers are the ones CometBFT is connected to, so it needs the embedded mode.
auto_fetch = %t
# Comma-separated RPC addresses (e.g. "tcp://10.0.0.5:26657,tcp://10.0.0.6:26657")
# auto_fetch asks after the connected peers (env VCHAIN_RUNTIME_FETCH_FROM). A node
# restarted while paused waits before starting CometBFT, with no peers yet: these are the
# only nodes it can ask then.
fetch_from = %q

[execution]
# Execute a proposal this validator accepts while the votes on it go round, and use that
# result when the block is decided (env VCHAIN_EXECUTION_OPTIMISTIC). A block other than
# the one executed is executed again, so results never depend on it; false executes each
# block only when it is decided.
optimistic = %t
`

// FetchFromList returns runtime.fetch_from's addresses.
func (c RuntimeConfig) FetchFromList() []string {
	var out []string
	for _, a := range strings.Split(c.FetchFrom, ",") {
		if a = strings.TrimSpace(a); a != "" {
			out = append(out, a)
		}
	}
	return out
}

// RuntimeOptions returns the runtime manager options c asks for.
func (c AppConfig) RuntimeOptions() []runtime.Option {
	if c.RuntimeCacheDir == "" {
		return nil
	}
	return []runtime.Option{runtime.WithCacheDir(c.RuntimeCacheDir)}
}

// WriteAppConfig writes c to path.
func WriteAppConfig(path string, c AppConfig) error {
	body := fmt.Sprintf(appConfigTemplate, c.DBBackend, c.ABCI, c.ABCIAddress, c.RuntimeCacheDir, c.Pruning.KeepRecent, c.Snapshot.Interval, c.Snapshot.KeepRecent, c.Console.Laddr, c.Runtime.AutoFetch, c.Runtime.FetchFrom, c.Execution.Optimistic)
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// LoadAppConfig reads path (a missing file means defaults) with VCHAIN_* overrides applied
// through v, which the caller may also have bound flags to.
func LoadAppConfig(v *viper.Viper, path string) (AppConfig, error) {
	d := DefaultAppConfig()
	v.SetDefault("db_backend", d.DBBackend)
	v.SetDefault("abci", d.ABCI)
	v.SetDefault("abci_address", d.ABCIAddress)
	v.SetDefault("runtime_cache_dir", d.RuntimeCacheDir)
	v.SetDefault("pruning.keep_recent", d.Pruning.KeepRecent)
	v.SetDefault("console.laddr", d.Console.Laddr)
	v.SetDefault("snapshot.interval", d.Snapshot.Interval)
	v.SetDefault("snapshot.keep_recent", d.Snapshot.KeepRecent)
	v.SetDefault("runtime.auto_fetch", d.Runtime.AutoFetch)
	v.SetDefault("runtime.fetch_from", d.Runtime.FetchFrom)
	v.SetDefault("execution.optimistic", d.Execution.Optimistic)
	v.SetEnvPrefix("VCHAIN")
	v.SetEnvKeyReplacer(strings.NewReplacer(".", "_", "-", "_"))
	v.AutomaticEnv()
	v.SetConfigFile(path)
	v.SetConfigType("toml")
	if err := v.ReadInConfig(); err != nil && !os.IsNotExist(err) {
		if _, statErr := os.Stat(path); statErr == nil {
			return d, fmt.Errorf("read %s: %w", path, err)
		}
	}
	var c AppConfig
	if err := v.Unmarshal(&c); err != nil {
		return d, fmt.Errorf("app config: %w", err)
	}
	switch c.DBBackend {
	case "pebble", "goleveldb":
	default:
		return c, fmt.Errorf("app config: db_backend %q: use pebble or goleveldb", c.DBBackend)
	}
	if c.Pruning.KeepRecent < 0 || c.Pruning.KeepRecent == 1 {
		return c, fmt.Errorf("app config: pruning.keep_recent %d: use 0 (keep all) or at least 2 heights", c.Pruning.KeepRecent)
	}
	if c.Snapshot.Interval < 0 || c.Snapshot.KeepRecent < 1 {
		return c, fmt.Errorf("app config: snapshot.interval %d, snapshot.keep_recent %d: use an interval of 0 (off) or more and keep at least 1", c.Snapshot.Interval, c.Snapshot.KeepRecent)
	}
	switch c.ABCI {
	case "embedded", "socket":
	default:
		return c, fmt.Errorf("app config: abci %q: use embedded or socket", c.ABCI)
	}
	return c, nil
}
