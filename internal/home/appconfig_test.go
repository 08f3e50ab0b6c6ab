package home

import (
	"path/filepath"
	"testing"

	"github.com/spf13/viper"
)

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
