//go:build linux || darwin || dragonfly || freebsd || netbsd || openbsd

package home

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	dbm "github.com/cosmos/cosmos-db"
)

// holdStoreEnv makes the test binary a helper process that opens the app store of the
// home in $VCHAIN_TEST_HOLD_STORE with backend $VCHAIN_TEST_BACKEND, as `vchaind start`
// does, says "open" and holds it until stdin closes. A lock must be held by another
// process: fcntl locks of this one never conflict with its own F_GETLK.
const holdStoreEnv = "VCHAIN_TEST_HOLD_STORE"

func TestMain(m *testing.M) {
	if root := os.Getenv(holdStoreEnv); root != "" {
		db, err := dbm.NewDB("vchain", dbm.BackendType(os.Getenv("VCHAIN_TEST_BACKEND")), Paths{Root: root}.Data())
		if err != nil {
			os.Stdout.WriteString("error: " + err.Error() + "\n")
			os.Exit(1)
		}
		os.Stdout.WriteString("open\n")
		_, _ = bufio.NewReader(os.Stdin).ReadString('\n')
		db.Close()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func TestNodeRunning(t *testing.T) {
	for _, backend := range []dbm.BackendType{dbm.PebbleDBBackend, dbm.GoLevelDBBackend} {
		t.Run(string(backend), func(t *testing.T) {
			p := Paths{Root: t.TempDir()}
			if running, err := p.NodeRunning(); running || err != nil {
				t.Fatalf("a home never started: running %v, %v", running, err)
			}
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), holdStoreEnv+"="+p.Root, "VCHAIN_TEST_BACKEND="+string(backend))
			stdin, err := cmd.StdinPipe()
			if err != nil {
				t.Fatal(err)
			}
			stdout, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
			if line, err := bufio.NewReader(stdout).ReadString('\n'); err != nil || line != "open\n" {
				t.Fatalf("helper: %q %v", line, err)
			}
			for i := 0; i < 2; i++ { // probing twice: the flock probe must not keep a lock
				if running, err := p.NodeRunning(); !running || err != nil {
					t.Fatalf("the store is open in another process: running %v, %v", running, err)
				}
			}
			stdin.Close()
			if err := cmd.Wait(); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(filepath.Join(p.Data(), "vchain.db", "LOCK")); err != nil {
				t.Fatalf("the LOCK file stays after a close: %v", err)
			}
			if running, err := p.NodeRunning(); running || err != nil {
				t.Fatalf("after the process closed the store: running %v, %v", running, err)
			}
			// The probe took no lock: the store opens again at once.
			db, err := dbm.NewDB("vchain", backend, p.Data())
			if err != nil {
				t.Fatalf("open the store after probing: %v", err)
			}
			db.Close()
		})
	}
}
