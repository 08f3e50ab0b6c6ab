package testnet

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vchain/vchain/internal/localnet"
	"github.com/vchain/vchain/internal/testwasm"
)

// TestComposeWithPodman runs the repository's docker-compose.yml with a real container
// engine: the image of Dockerfile.local (nothing pulled), four containers from the homes
// `testnet init --docker` makes, load through the published ports, v2 installed inside
// each running container, the switch scheduled from the host, one container stopped and
// started again. Nothing of the project is left behind, whatever the outcome.
func TestComposeWithPodman(t *testing.T) {
	if testing.Short() {
		t.Skip("builds an image and runs four containers")
	}
	for _, tool := range []string{"podman", "podman-compose"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s missing: .ci/run installs podman, podman-compose and runc", tool)
			}
			t.Skipf("%s missing (apt-get install podman podman-compose runc): the compose test needs a container engine", tool)
		}
	}
	root := testwasm.RepoRoot()
	work := t.TempDir()
	began := time.Now()
	step := func(what string) { t.Logf("[%5.1fs] %s", time.Since(began).Seconds(), what) }
	project := fmt.Sprintf("vchaintest%d", os.Getpid())
	image := fmt.Sprintf("localhost/vchain-test:%d", os.Getpid())

	// crun cannot set rlimits or cgroups in every sandbox; runc without default ulimits runs
	// anywhere podman does.
	conf := filepath.Join(work, "containers.conf")
	if err := os.WriteFile(conf, []byte("[containers]\ndefault_ulimits = []\n\n[engine]\nruntime = \"runc\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	env := append(os.Environ(), "CONTAINERS_CONF="+conf, "VCHAIN_IMAGE="+image)
	proj := filepath.Join(work, "proj")
	run := func(timeout time.Duration, name string, args ...string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		cmd := exec.CommandContext(ctx, name, args...)
		cmd.Env, cmd.Dir = env, proj
		out, err := cmd.CombinedOutput()
		if err != nil {
			return string(out), fmt.Errorf("%s %s: %w\n%s", name, strings.Join(args, " "), err, out)
		}
		return string(out), nil
	}
	must := func(timeout time.Duration, name string, args ...string) string {
		t.Helper()
		out, err := run(timeout, name, args...)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}

	// The image: Dockerfile.local over a static vchaind and the modules.
	imageDir := filepath.Join(work, "image")
	if err := os.MkdirAll(filepath.Join(imageDir, "contracts"), 0o755); err != nil {
		t.Fatal(err)
	}
	build := exec.Command("go", "build", "-buildvcs=false", "-trimpath", "-o", filepath.Join(imageDir, "vchaind"), "./cmd/vchaind")
	build.Dir, build.Env = root, append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("static vchaind: %v\n%s", err, out)
	}
	for _, v := range []string{"v1", "v2"} {
		if err := os.WriteFile(filepath.Join(imageDir, "contracts", v+".wasm"), testwasm.Module(t, v), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(proj, 0o755); err != nil {
		t.Fatal(err)
	}
	step("static vchaind built")
	must(5*time.Minute, "podman", "build", "-f", filepath.Join(root, "Dockerfile.local"), "-t", image, imageDir)
	step("image built")
	t.Cleanup(func() { _, _ = run(time.Minute, "podman", "rmi", "-f", image) })

	// The homes, as the compose file's header says, and the compose file itself.
	compose, err := os.ReadFile(filepath.Join(root, "docker-compose.yml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(proj, "docker-compose.yml"), compose, 0o644); err != nil {
		t.Fatal(err)
	}
	m, err := localnet.Init(context.Background(), filepath.Join(proj, ".localnet", "docker"), localnet.Options{
		Validators: 4, Docker: true, Runtime: testwasm.Module(t, "v1"),
	})
	if err != nil {
		t.Fatal(err)
	}
	p := &ProcNet{M: m, Bin: Binary(t), Modules: map[string]string{"v2": filepath.Join(imageDir, "contracts", "v2.wasm")}}

	label := "label=io.podman.compose.project=" + project
	t.Cleanup(func() {
		if t.Failed() {
			for _, n := range m.Nodes {
				if out, err := run(time.Minute, "podman", "logs", "--tail", "40", container(project, n.Name)); err == nil {
					t.Logf("--- %s (last 40 lines):\n%s", n.Name, out)
				}
			}
		}
		if out, err := run(3*time.Minute, "podman-compose", "-p", project, "down", "-v"); err != nil {
			t.Logf("compose down: %v\n%s", err, out)
		}
		// podman-compose 1.0 leaves the project's network; remove whatever is left.
		if ids, _ := run(time.Minute, "podman", "ps", "-aq", "--filter", label); strings.TrimSpace(ids) != "" {
			_, _ = run(time.Minute, "podman", append([]string{"rm", "-f"}, strings.Fields(ids)...)...)
		}
		_, _ = run(time.Minute, "podman", "network", "rm", "-f", project+"_default")
		left, _ := run(time.Minute, "podman", "ps", "-aq", "--filter", label)
		nets, _ := run(time.Minute, "podman", "network", "ls", "-q", "--filter", "name=^"+project+"_")
		vols, _ := run(time.Minute, "podman", "volume", "ls", "-q", "--filter", label)
		if strings.TrimSpace(left+nets+vols) != "" {
			t.Errorf("left behind: containers %q networks %q volumes %q", left, nets, vols)
		}
	})
	must(5*time.Minute, "podman-compose", "-p", project, "up", "-d")
	step("compose up")
	p.WaitHeight(t, 3, 3*time.Minute, validators4...)
	step("height 3 on all four")
	for _, s := range testnetStatus(t, p) {
		if !s.Up || s.Local || s.Peers != 3 {
			t.Fatalf("testnet status of %s: up %v, local process %v, %d peers; want up in a container with 3 peers", s.Name, s.Up, s.Local, s.Peers)
		}
	}
	// Each container's console, published on the host's loopback, answers from its node.
	for _, n := range m.Nodes {
		var snap struct {
			Node struct {
				Moniker string `json:"moniker"`
				Height  int64  `json:"height"`
			} `json:"node"`
		}
		res, err := http.Get(n.ConsoleURL() + "api/snapshot")
		if err != nil {
			t.Fatalf("%s console: %v", n.Name, err)
		}
		err = json.NewDecoder(res.Body).Decode(&snap)
		res.Body.Close()
		if err != nil || snap.Node.Moniker != n.Name || snap.Node.Height < 3 {
			t.Fatalf("%s console at %s: %v %+v", n.Name, n.ConsoleURL(), err, snap)
		}
	}

	// Load through the published ports, v2 installed inside each running container.
	// node3 is stopped later: the load goes through the other three, so nothing it accepted
	// waits in a stopped mempool.
	load := StartLoad(t, m.ChainID, p.Clients(t, "node0", "node1", "node2"), 3, 100*time.Millisecond)
	p.Admin(t, "upgrade", "register", "2", "--file", p.Modules["v2"])
	// Each operator installs on its own host at the same time.
	installed := make(chan error, len(m.Nodes))
	for _, n := range m.Nodes {
		go func() {
			out, err := run(3*time.Minute, "podman", "exec", container(project, n.Name), "/usr/local/bin/vchaind", "runtime", "install",
				"/opt/vchain/contracts/v2.wasm", "--version", "2", "--home", "/vchain", "--node", fmt.Sprintf("tcp://%s:%d", n.Host, n.RPC))
			if err == nil && !strings.Contains(out, "attest") {
				err = fmt.Errorf("%s: install did not attest:\n%s", n.Name, out)
			}
			installed <- err
		}()
	}
	for range m.Nodes {
		if err := <-installed; err != nil {
			t.Fatal(err)
		}
	}
	step("v2 installed in the four containers")
	start := p.Admin(t, "upgrade", "schedule", "2", "--in", "4") + 4
	p.WaitHeight(t, start+1, 2*time.Minute, validators4...)
	for _, name := range validators4 {
		if h := p.History(t, name); len(h) != 2 || h[1].Height != start || h[1].Version != 2 {
			t.Fatalf("%s: history %+v, want v2 from %d", name, h, start)
		}
	}

	step(fmt.Sprintf("switched to v2 at %d", start))

	// Recovery: one container stopped under load, the rest go on, it catches up.
	must(time.Minute, "podman", "stop", "-t", "20", container(project, "node3"))
	for _, s := range testnetStatus(t, p) {
		if s.Name == "node3" && s.Up {
			t.Fatalf("node3 stopped but testnet status says it is up: %+v", s)
		}
	}
	top := p.Status(t, "node0").Height
	p.WaitHeight(t, top+3, time.Minute, "node0", "node1", "node2")
	must(time.Minute, "podman", "start", container(project, "node3"))
	top = p.Status(t, "node0").Height
	p.WaitHeight(t, top+2, 2*time.Minute, validators4...)

	step("node3 stopped, started, caught up")
	lr := load.StopAndCheck(t, p.Client(t, "node0"))
	if lr.Committed == 0 || lr.Failed != 0 || lr.WrongVersion != 0 {
		t.Fatalf("load: %+v", lr)
	}
	checked := p.CheckConsistency(t, validators4...)
	t.Logf("4 containers: switch to v2 at %d, node3 restarted; identical blocks and app hashes at 1..%d; load %+v", start, checked, lr)
}

// container names the container podman-compose runs for a service.
func container(project, service string) string { return project + "_" + service + "_1" }

// testnetStatus runs `vchaind testnet status --output json` on p's directory.
func testnetStatus(t *testing.T, p *ProcNet) []localnet.Status {
	t.Helper()
	out, err := exec.Command(p.Bin, "testnet", "status", p.M.Dir(), "--output", "json").Output()
	if err != nil {
		t.Fatalf("testnet status: %v", err)
	}
	var st []localnet.Status
	if err := json.Unmarshal(out, &st); err != nil {
		t.Fatalf("testnet status: %v\n%s", err, out)
	}
	return st
}
