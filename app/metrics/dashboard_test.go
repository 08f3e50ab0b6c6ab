package metrics

import (
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"
)

// dashboard is the Grafana dashboard the README points operators to.
const dashboard = "../../deploy/grafana/vchain.json"

// TestDashboardQueriesExist: every vchain_ series the dashboard queries is one this
// package exports, so renaming a series without the dashboard fails here, not in front of
// an operator with empty panels.
func TestDashboardQueriesExist(t *testing.T) {
	raw, err := os.ReadFile(dashboard)
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Title  string `json:"title"`
		Panels []struct {
			Title   string `json:"title"`
			Type    string `json:"type"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatalf("%s: %v", dashboard, err)
	}
	m, reg := newTest(t, Sources{})
	m.SetRuntime(Runtime{Installed: []uint64{1}})
	m.BlockExecuted(time.Millisecond, []uint32{0}, 1, false)
	m.CheckTx(3, false)
	m.CheckTx(3, true)
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	exported := map[string]bool{}
	for _, f := range fams {
		exported[f.GetName()] = true
	}
	name := regexp.MustCompile(`vchain_[a-z_]+`)
	queried := map[string]bool{}
	for _, p := range d.Panels {
		for _, tg := range p.Targets {
			for _, n := range name.FindAllString(tg.Expr, -1) {
				for _, suffix := range []string{"_bucket", "_sum", "_count"} {
					if base := strings.TrimSuffix(n, suffix); base != n && exported[base] {
						n = base
					}
				}
				queried[n] = true
				if !exported[n] {
					t.Errorf("panel %q queries %s, which vchain does not export", p.Title, n)
				}
			}
		}
	}
	for _, want := range []string{"vchain_runtime_effective_version", "vchain_runtime_pending_version", "vchain_runtime_pending_blocks_left",
		"vchain_runtime_readiness_attested_power", "vchain_runtime_readiness_total_power", "vchain_runtime_paused"} {
		if !queried[want] {
			t.Errorf("the dashboard does not show %s (switch timeline and readiness)", want)
		}
	}
}
