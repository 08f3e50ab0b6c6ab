package metrics

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// dashboard is the Grafana dashboard the README points operators to.
const dashboard = "../../deploy/grafana/vchain.json"

// query is one PromQL query of the dashboard and where it is.
type query struct{ where, expr string }

// dashboardQueries returns every query of the dashboard: its annotations' and panels'.
func dashboardQueries(t *testing.T) []query {
	t.Helper()
	raw, err := os.ReadFile(dashboard)
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Annotations struct {
			List []struct {
				Expr string `json:"expr"`
			} `json:"list"`
		} `json:"annotations"`
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatalf("%s: %v", dashboard, err)
	}
	var qs []query
	for _, a := range d.Annotations.List {
		if a.Expr != "" {
			qs = append(qs, query{"annotation", a.Expr})
		}
	}
	for _, p := range d.Panels {
		for _, tg := range p.Targets {
			qs = append(qs, query{fmt.Sprintf("panel %q", p.Title), tg.Expr})
		}
	}
	if len(qs) < 20 {
		t.Fatalf("only %d queries found in %s", len(qs), dashboard)
	}
	return qs
}

// TestDashboardQueriesExist: every vchain_ series the dashboard queries is one this
// package exports, so renaming a series without the dashboard fails here, not in front of
// an operator with empty panels.
func TestDashboardQueriesExist(t *testing.T) {
	m, reg := newTest(t, Sources{})
	m.SetRuntime(Runtime{Installed: []uint64{1}})
	m.BlockExecuted(time.Millisecond, PathOptimistic, []uint32{0}, 1, false)
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
	for _, q := range dashboardQueries(t) {
		for _, n := range name.FindAllString(q.expr, -1) {
			for _, suffix := range []string{"_bucket", "_sum", "_count"} {
				if base := strings.TrimSuffix(n, suffix); base != n && exported[base] {
					n = base
				}
			}
			queried[n] = true
			if !exported[n] {
				t.Errorf("%s queries %s, which vchain does not export", q.where, n)
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

// TestDashboardPromQL parses every query of the dashboard with promtool (as recording rules,
// the one offline PromQL check it has), its variables replaced by values.
func TestDashboardPromQL(t *testing.T) {
	path, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("promtool is missing (Debian package prometheus; .ci/run installs it)")
		}
		t.Skip("promtool not found: install Debian's prometheus package to check the dashboard's queries")
	}
	vars := strings.NewReplacer("$chain_id", "test-chain", "$instance", ".*", "$__rate_interval", "1m")
	type rule struct {
		Record string `json:"record"`
		Expr   string `json:"expr"`
	}
	var rules []rule
	for i, q := range dashboardQueries(t) {
		rules = append(rules, rule{Record: fmt.Sprintf("dashboard:query%d", i), Expr: vars.Replace(q.expr)})
	}
	// JSON is YAML: a rules file promtool reads.
	file, err := json.Marshal(map[string]any{"groups": []any{map[string]any{"name": "dashboard", "rules": rules}}})
	if err != nil {
		t.Fatal(err)
	}
	rf := filepath.Join(t.TempDir(), "dashboard.rules.yml")
	if err := os.WriteFile(rf, file, 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(path, "check", "rules", rf).CombinedOutput(); err != nil {
		t.Fatalf("promtool check rules: %v\n%s", err, out)
	}
}
