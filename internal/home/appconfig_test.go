package home

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/pflag"
	"github.com/spf13/viper"
)

// TestConsoleLaddr: console.laddr is off by default, read from app.toml's [console] table,
// overridden by VCHAIN_CONSOLE_LADDR, then by the start command's --console-laddr.
func TestConsoleLaddr(t *testing.T) {
	for _, c := range []struct {
		name, file, env, flag, want string
	}{
		{name: "default off"},
		{name: "app.toml", file: "127.0.0.1:26670", want: "127.0.0.1:26670"},
		{name: "env over file", file: "127.0.0.1:26670", env: "127.0.0.1:1234", want: "127.0.0.1:1234"},
		{name: "flag over env", file: "127.0.0.1:26670", env: "127.0.0.1:1234", flag: ":9", want: ":9"},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "app.toml")
			cfg := DefaultAppConfig()
			cfg.Console.Laddr = c.file
			if err := WriteAppConfig(path, cfg); err != nil {
				t.Fatal(err)
			}
			t.Setenv("VCHAIN_CONSOLE_LADDR", c.env) // viper takes an empty variable as unset
			v := viper.New()
			fs := pflag.NewFlagSet("start", pflag.ContinueOnError)
			fs.String("console-laddr", "", "")
			_ = v.BindPFlag("console.laddr", fs.Lookup("console-laddr"))
			if c.flag != "" {
				if err := fs.Parse([]string{"--console-laddr", c.flag}); err != nil {
					t.Fatal(err)
				}
			}
			got, err := LoadAppConfig(v, path)
			if err != nil {
				t.Fatal(err)
			}
			if got.Console.Laddr != c.want || got.DBBackend != "pebble" {
				t.Fatalf("console.laddr %q (db %q), want %q", got.Console.Laddr, got.DBBackend, c.want)
			}
		})
	}
}

// TestPruningKeepRecent: pruning.keep_recent defaults to 100, is read from app.toml,
// overridden by VCHAIN_PRUNING_KEEP_RECENT, and a negative value is refused.
func TestPruningKeepRecent(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.toml")
	load := func() (AppConfig, error) { return LoadAppConfig(viper.New(), path) }

	c, err := load() // no file: defaults
	if err != nil || c.Pruning.KeepRecent != 100 {
		t.Fatalf("default: %d, %v; want 100", c.Pruning.KeepRecent, err)
	}
	d := DefaultAppConfig()
	d.Pruning.KeepRecent = 7
	if err := WriteAppConfig(path, d); err != nil {
		t.Fatal(err)
	}
	if c, err = load(); err != nil || c.Pruning.KeepRecent != 7 {
		t.Fatalf("from app.toml: %d, %v; want 7", c.Pruning.KeepRecent, err)
	}
	t.Setenv("VCHAIN_PRUNING_KEEP_RECENT", "0")
	if c, err = load(); err != nil || c.Pruning.KeepRecent != 0 {
		t.Fatalf("from the environment: %d, %v; want 0", c.Pruning.KeepRecent, err)
	}
	t.Setenv("VCHAIN_PRUNING_KEEP_RECENT", "-1")
	if _, err = load(); err == nil {
		t.Fatal("a negative keep_recent was accepted")
	}
}

// TestSnapshotConfig: snapshot.interval defaults to 0 (none) and keep_recent to 2, both are
// read from app.toml's [snapshot] table and overridden by VCHAIN_SNAPSHOT_*; a negative
// interval and keeping no snapshot are refused.
func TestSnapshotConfig(t *testing.T) {
	path := filepath.Join(t.TempDir(), "app.toml")
	load := func() (AppConfig, error) { return LoadAppConfig(viper.New(), path) }
	c, err := load()
	if err != nil || c.Snapshot.Interval != 0 || c.Snapshot.KeepRecent != 2 {
		t.Fatalf("default: %+v, %v; want interval 0, keep 2", c.Snapshot, err)
	}
	d := DefaultAppConfig()
	d.Snapshot = SnapshotConfig{Interval: 20, KeepRecent: 3}
	if err := WriteAppConfig(path, d); err != nil {
		t.Fatal(err)
	}
	if c, err = load(); err != nil || c.Snapshot != d.Snapshot {
		t.Fatalf("from app.toml: %+v, %v; want %+v", c.Snapshot, err, d.Snapshot)
	}
	t.Setenv("VCHAIN_SNAPSHOT_INTERVAL", "5")
	if c, err = load(); err != nil || c.Snapshot.Interval != 5 || c.Snapshot.KeepRecent != 3 {
		t.Fatalf("from the environment: %+v, %v; want interval 5", c.Snapshot, err)
	}
	for env, val := range map[string]string{"VCHAIN_SNAPSHOT_INTERVAL": "-1", "VCHAIN_SNAPSHOT_KEEP_RECENT": "0"} {
		t.Setenv(env, val)
		if _, err = load(); err == nil {
			t.Fatalf("%s=%s accepted", env, val)
		}
		t.Setenv(env, "")
		t.Setenv("VCHAIN_SNAPSHOT_INTERVAL", "5")
	}
}

// TestRuntimeAutoFetch: [runtime] auto_fetch is off by default, written and read back
// from app.toml with fetch_from, and VCHAIN_RUNTIME_AUTO_FETCH / _FETCH_FROM override it.
func TestRuntimeAutoFetch(t *testing.T) {
	path := filepath.Join(t.TempDir(), "app.toml")
	if err := WriteAppConfig(path, DefaultAppConfig()); err != nil {
		t.Fatal(err)
	}
	c, err := LoadAppConfig(viper.New(), path)
	if err != nil || c.Runtime.AutoFetch || len(c.Runtime.FetchFromList()) != 0 {
		t.Fatalf("default: %+v, %v; want off", c.Runtime, err)
	}
	cfg := DefaultAppConfig()
	cfg.Runtime = RuntimeConfig{AutoFetch: true, FetchFrom: "tcp://10.0.0.5:26657, tcp://10.0.0.6:26657"}
	if err := WriteAppConfig(path, cfg); err != nil {
		t.Fatal(err)
	}
	if c, err = LoadAppConfig(viper.New(), path); err != nil || !c.Runtime.AutoFetch ||
		strings.Join(c.Runtime.FetchFromList(), " ") != "tcp://10.0.0.5:26657 tcp://10.0.0.6:26657" {
		t.Fatalf("from app.toml: %+v, %v", c.Runtime, err)
	}
	t.Setenv("VCHAIN_RUNTIME_AUTO_FETCH", "false")
	t.Setenv("VCHAIN_RUNTIME_FETCH_FROM", "tcp://127.0.0.1:1")
	if c, err = LoadAppConfig(viper.New(), path); err != nil || c.Runtime.AutoFetch || c.Runtime.FetchFrom != "tcp://127.0.0.1:1" {
		t.Fatalf("env over app.toml: %+v, %v", c.Runtime, err)
	}
}
