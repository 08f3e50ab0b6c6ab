package testnet

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/viper"
	"go.yaml.in/yaml/v3"

	vhome "github.com/vchain/vchain/internal/home"
	"github.com/vchain/vchain/internal/localnet"
	"github.com/vchain/vchain/internal/node"
	"github.com/vchain/vchain/internal/testwasm"
)

// TestComposeMatchesTestnetInit checks what can be checked here without a Docker engine:
// docker-compose.yml at the repository root runs exactly the homes that
// `vchaind testnet init --validators 4 --docker --output .localnet/docker` creates, with
// the right home, hostnames, published ports and peers.
func TestComposeMatchesTestnetInit(t *testing.T) {
	root := testwasm.RepoRoot()
	raw, err := os.ReadFile(filepath.Join(root, "docker-compose.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var compose struct {
		Services map[string]struct {
			Image    string   `yaml:"image"`
			Build    string   `yaml:"build"`
			Hostname string   `yaml:"hostname"`
			Command  []string `yaml:"command"`
			Volumes  []string `yaml:"volumes"`
			Ports    []string `yaml:"ports"`
		} `yaml:"services"`
	}
	if err := yaml.Unmarshal(raw, &compose); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}

	// The same command the compose file's header names, into a scratch copy of the repo root.
	scratch := t.TempDir()
	m, err := localnet.Init(context.Background(), filepath.Join(scratch, ".localnet", "docker"), localnet.Options{
		Validators: 4, Docker: true, Runtime: testwasm.Module(t, "v1"), RuntimeCacheDir: testwasm.CacheDir(),
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(compose.Services) != len(m.Nodes) {
		t.Fatalf("%d services for %d nodes", len(compose.Services), len(m.Nodes))
	}
	for _, n := range m.Nodes {
		s, ok := compose.Services[n.Name]
		if !ok {
			t.Fatalf("no service %s", n.Name)
		}
		if s.Hostname != n.Host {
			t.Errorf("%s: hostname %q, peers reach it as %q", n.Name, s.Hostname, n.Host)
		}
		if s.Image != "${VCHAIN_IMAGE:-vchain:local}" || !slices.Equal(s.Command, []string{"start", "--home", "/vchain"}) {
			t.Errorf("%s: image %q command %v", n.Name, s.Image, s.Command)
		}
		if len(s.Volumes) != 1 {
			t.Fatalf("%s: volumes %v", n.Name, s.Volumes)
		}
		hostPath, containerPath, _ := strings.Cut(s.Volumes[0], ":")
		if containerPath != "/vchain" {
			t.Errorf("%s: mounted at %s, the command's home is /vchain", n.Name, containerPath)
		}
		home := filepath.Join(scratch, hostPath)
		if home != m.HomeOf(n) {
			t.Errorf("%s: compose mounts %s, testnet init made %s", n.Name, home, m.HomeOf(n))
		}
		for _, f := range []string{"config/genesis.json", "config/config.toml", "config/app.toml", "config/priv_validator_key.json", "runtime/v1.wasm"} {
			if _, err := os.Stat(filepath.Join(home, f)); err != nil {
				t.Errorf("%s: %v", n.Name, err)
			}
		}
		want := []string{fmt.Sprintf("%d:%d", n.P2P, n.P2P), fmt.Sprintf("%d:%d", n.RPC, n.RPC), fmt.Sprintf("%d:%d", n.Metrics, n.Metrics),
			fmt.Sprintf("127.0.0.1:%d:%d", n.Console, n.Console)}
		if !slices.Equal(s.Ports, want) {
			t.Errorf("%s: ports %v, testnet.json says %v", n.Name, s.Ports, want)
		}
		app, err := vhome.LoadAppConfig(viper.New(), filepath.Join(home, "config", "app.toml"))
		if err != nil {
			t.Fatal(err)
		}
		if app.Console.Laddr != fmt.Sprintf("0.0.0.0:%d", n.Console) {
			t.Errorf("%s: console.laddr %q: in a container it must listen on all interfaces at %d", n.Name, app.Console.Laddr, n.Console)
		}
		cfg, err := node.LoadCometConfig(home, nil)
		if err != nil {
			t.Fatal(err)
		}
		if cfg.P2P.ListenAddress != fmt.Sprintf("tcp://0.0.0.0:%d", n.P2P) || cfg.RPC.ListenAddress != fmt.Sprintf("tcp://0.0.0.0:%d", n.RPC) {
			t.Errorf("%s: listens on %s and %s, not on all interfaces", n.Name, cfg.P2P.ListenAddress, cfg.RPC.ListenAddress)
		}
		for _, p := range m.Nodes {
			if p.Name != n.Name && !strings.Contains(cfg.P2P.PersistentPeers, fmt.Sprintf("%s@%s:%d", p.NodeID, p.Name, p.P2P)) {
				t.Errorf("%s: peers %q miss %s by service name", n.Name, cfg.P2P.PersistentPeers, p.Name)
			}
		}
	}
	dockerfile, err := os.ReadFile(filepath.Join(root, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"CGO_ENABLED=0 make build", "COPY --from=build /src/build/vchaind", "COPY --from=build /src/build/contracts"} {
		if !strings.Contains(string(dockerfile), want) {
			t.Errorf("Dockerfile lacks %q", want)
		}
	}
}
