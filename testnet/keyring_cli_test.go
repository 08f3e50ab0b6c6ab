package testnet

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vchain/vchain/internal/client"
	"github.com/vchain/vchain/internal/testwasm"
)

const keyringPass = "a passphrase for the test"

// TestCLIFileKeyring drives the real binary with the file keyring backend as a script
// would: no terminal (stdin is /dev/null), the passphrase in VCHAIN_KEYRING_PASSPHRASE.
//   - init encrypts admin and operator by default; their files hold no hex or base64 of
//     the private key (learned through an export imported into a test keyring);
//   - tx call, upgrade register, runtime install (which attests with the operator key) and
//     upgrade schedule sign with the encrypted keys;
//   - no passphrase, a wrong one, a tampered key file, an unknown backend: exit 1 with a
//     clear message, the key file unchanged;
//   - a passphrase file works, and one others can read is refused;
//   - keys rename/delete/export/import; keys migrate --to file encrypts a test home.
func TestCLIFileKeyring(t *testing.T) {
	if testing.Short() {
		t.Skip("runs vchaind processes")
	}
	bin := Binary(t)
	dir := t.TempDir()
	h := filepath.Join(dir, "home")
	wasm := map[string]string{}
	for _, v := range []string{"v1", "v2"} {
		wasm[v] = filepath.Join(dir, v+".wasm")
		if err := os.WriteFile(wasm[v], testwasm.Module(t, v), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ports := FreePorts(t, 2)
	rpc := fmt.Sprintf("tcp://127.0.0.1:%d", ports[1])
	var baseEnv []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "VCHAIN_KEYRING_") {
			baseEnv = append(baseEnv, kv)
		}
	}
	type result struct{ stdout, stderr string }
	// run runs vchaind with env added and wants exit code want.
	run := func(env []string, want int, args ...string) result {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Env = append(append([]string{}, baseEnv...), env...)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		code := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatalf("vchaind %s: %v", strings.Join(args, " "), err)
		}
		if code != want {
			t.Fatalf("vchaind %s: exit %d, want %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, want, stdout.String(), stderr.String())
		}
		return result{stdout.String(), stderr.String()}
	}
	withPass := []string{"VCHAIN_KEYRING_PASSPHRASE=" + keyringPass}
	wrongPass := []string{"VCHAIN_KEYRING_PASSPHRASE=not " + keyringPass}
	cli := func(env []string, want int, args ...string) result {
		t.Helper()
		return run(env, want, append(args, "--home", h)...)
	}

	// Without a passphrase and a terminal, init stops before writing anything.
	if r := run(nil, 1, "init", "--home", h, "--chain-id", "keys", "--runtime", wasm["v1"]); !strings.Contains(r.stderr, "VCHAIN_KEYRING_PASSPHRASE") {
		t.Fatalf("init without a passphrase: %s", r.stderr)
	}
	if _, err := os.Stat(h); !os.IsNotExist(err) {
		t.Fatalf("init without a passphrase left %s behind: %v", h, err)
	}
	run(withPass, 0, "init", "--home", h, "--chain-id", "keys", "--runtime", wasm["v1"],
		"--p2p.laddr", fmt.Sprintf("tcp://127.0.0.1:%d", ports[0]), "--rpc.laddr", rpc)
	adminFile := filepath.Join(h, "keyring", "admin.key")
	for _, f := range []string{adminFile, filepath.Join(h, "keyring", "operator.key")} {
		if st, err := os.Stat(f); err != nil || st.Mode().Perm() != 0o600 {
			t.Fatalf("%s: %v %v, want an encrypted key file, mode 0600", f, st, err)
		}
	}
	var listed []struct{ Name, Backend string }
	if err := json.Unmarshal([]byte(cli(nil, 0, "keys", "list", "-o", "json").stdout), &listed); err != nil ||
		len(listed) != 2 || listed[0].Backend != "file" || listed[1].Name != "operator" {
		t.Fatalf("keys list -o json: %+v %v", listed, err)
	}
	if r := cli(nil, 0, "keys", "list"); !strings.Contains(r.stdout, "backend:") || !strings.Contains(r.stdout, "file") || strings.Contains(r.stderr, "WARNING") {
		t.Fatalf("keys list:\n%s\n%s", r.stdout, r.stderr)
	}

	// The private key, learned through an export imported into a test keyring, appears in
	// no encoding in the encrypted file.
	exported := filepath.Join(dir, "admin.age")
	cli(withPass, 0, "keys", "export", "admin", "--out", exported)
	if armour, _ := os.ReadFile(exported); !strings.HasPrefix(string(armour), "-----BEGIN AGE ENCRYPTED FILE-----") {
		t.Fatalf("export: %q", armour)
	}
	cli(withPass, 1, "keys", "export", "admin", "--out", exported) // never replaces a file
	plainHome := filepath.Join(dir, "plain")
	if r := run(withPass, 0, "keys", "import", "admin", exported, "--home", plainHome, "--keyring-backend", "test"); !strings.Contains(r.stderr, "WARNING: keyring backend test") {
		t.Fatalf("a test keyring without its warning: %s", r.stderr)
	}
	var plainKey struct {
		PrivKey string `json:"priv_key"`
	}
	if b, err := os.ReadFile(filepath.Join(plainHome, "keyring", "admin.json")); err != nil || json.Unmarshal(b, &plainKey) != nil || len(plainKey.PrivKey) != 128 {
		t.Fatalf("imported plain key: %v %+v", err, plainKey)
	}
	priv, _ := hex.DecodeString(plainKey.PrivKey)
	encFile, err := os.ReadFile(adminFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, enc := range []string{hex.EncodeToString(priv[:32]), strings.ToUpper(hex.EncodeToString(priv[:32])),
		base64.StdEncoding.EncodeToString(priv[:32]), base64.RawURLEncoding.EncodeToString(priv[:32]), base64.StdEncoding.EncodeToString(priv)} {
		if bytes.Contains(encFile, []byte(enc[:20])) {
			t.Fatalf("%s holds the private key (%s...)", adminFile, enc[:20])
		}
	}
	run(wrongPass, 1, "keys", "import", "again", exported, "--home", plainHome, "--keyring-backend", "test")

	// A node, and the admin's and operator's transactions signed by a script.
	logf, err := os.Create(filepath.Join(dir, "node.log"))
	if err != nil {
		t.Fatal(err)
	}
	node := exec.Command(bin, "start", "--home", h)
	node.Env, node.Stdout, node.Stderr = baseEnv, logf, logf
	if err := node.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = node.Process.Kill(); _ = node.Wait(); logf.Close() })
	c, _ := client.New(rpc)
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if st, err := c.RPC.Status(t.Context()); err == nil && st.SyncInfo.LatestBlockHeight >= 1 {
			break
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(logf.Name())
			t.Fatalf("no block in 60s:\n%s", log)
		}
	}
	var res struct{ Code uint32 }
	if err := json.Unmarshal([]byte(cli(withPass, 0, "tx", "call", "kv", "set", `{"key":"a","value":"1"}`, "--from", "admin", "-o", "json").stdout), &res); err != nil || res.Code != 0 {
		t.Fatalf("tx call: %+v %v", res, err)
	}
	if r := cli(nil, 1, "tx", "call", "kv", "set", `{"key":"a","value":"2"}`, "--from", "admin"); !strings.Contains(r.stderr, "VCHAIN_KEYRING_PASSPHRASE") {
		t.Fatalf("tx call without a passphrase: %s", r.stderr)
	}
	if r := cli(wrongPass, 1, "tx", "call", "kv", "set", `{"key":"a","value":"2"}`, "--from", "admin"); !strings.Contains(r.stderr, "wrong passphrase") {
		t.Fatalf("tx call with a wrong passphrase: %s", r.stderr)
	}
	passFile := filepath.Join(dir, "pass")
	if err := os.WriteFile(passFile, []byte(keyringPass+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cli(nil, 0, "upgrade", "register", "2", "--file", wasm["v2"], "--from", "admin", "--keyring-passphrase-file", passFile)
	cli(withPass, 0, "runtime", "install", wasm["v2"], "--version", "2") // attests, signed by the operator key
	var sched struct{ Code uint32 }
	if err := json.Unmarshal([]byte(cli(withPass, 0, "upgrade", "schedule", "2", "--in", "3", "--from", "admin", "-o", "json").stdout), &sched); err != nil || sched.Code != 0 {
		t.Fatalf("upgrade schedule: %+v %v", sched, err)
	}
	if err := os.Chmod(passFile, 0o644); err != nil {
		t.Fatal(err)
	}
	if r := cli(nil, 1, "upgrade", "cancel", "--from", "admin", "--keyring-passphrase-file", passFile); !strings.Contains(r.stderr, "too open") {
		t.Fatalf("a passphrase file others can read: %s", r.stderr)
	}
	if got := strings.TrimSpace(cli(nil, 0, "query", "state", "kv", "a").stdout); got != "1" {
		t.Fatalf("kv a = %q: a refused call was committed", got)
	}

	// A tampered key file is refused and left as it is; an unknown backend too.
	orig, _ := os.ReadFile(adminFile)
	tampered := bytes.Replace(orig, []byte("\\n"), []byte("\\nAAAA"), 3)
	if err := os.WriteFile(adminFile, tampered, 0o600); err != nil {
		t.Fatal(err)
	}
	if r := cli(withPass, 1, "tx", "call", "kv", "set", `{"key":"a","value":"3"}`, "--from", "admin"); !strings.Contains(r.stderr, "damaged or was altered") && !strings.Contains(r.stderr, "wrong passphrase") {
		t.Fatalf("tampered key: %s", r.stderr)
	}
	cli(withPass, 1, "keys", "add", "admin")
	if now, _ := os.ReadFile(adminFile); !bytes.Equal(now, tampered) {
		t.Fatal("the tampered key file was rewritten")
	}
	if err := os.WriteFile(adminFile, orig, 0o600); err != nil {
		t.Fatal(err)
	}
	if r := cli(withPass, 1, "keys", "list", "--keyring-backend", "kwallet"); !strings.Contains(r.stderr, `unknown keyring backend "kwallet"`) {
		t.Fatalf("unknown backend: %s", r.stderr)
	}
	if r := cli(append([]string{"VCHAIN_KEYRING_BACKEND=os"}, withPass...), 1, "tx", "call", "kv", "set", `{}`, "--from", "admin"); !strings.Contains(r.stderr, `unknown keyring backend "os"`) {
		t.Fatalf("unknown backend from the environment: %s", r.stderr)
	}

	// rename, delete, import into the file backend.
	cli(nil, 0, "keys", "rename", "operator", "op")
	cli(nil, 1, "keys", "rename", "admin", "op")
	cli(nil, 1, "keys", "delete", "op") // no terminal to confirm on
	cli(nil, 0, "keys", "delete", "op", "--yes")
	cli(withPass, 0, "keys", "import", "admin2", exported)
	var shown struct{ Address, Backend string }
	if err := json.Unmarshal([]byte(cli(nil, 0, "keys", "show", "admin2", "-o", "json").stdout), &shown); err != nil || shown.Backend != "file" {
		t.Fatalf("keys show admin2: %+v %v", shown, err)
	}
	if err := json.Unmarshal([]byte(cli(withPass, 0, "tx", "call", "kv", "set", `{"key":"b","value":"1"}`, "--from", "admin2", "-o", "json").stdout), &res); err != nil || res.Code != 0 {
		t.Fatalf("tx call from the imported key: %+v %v", res, err)
	}

	// A plain keyring (the test backend of plainHome) becomes encrypted in one command.
	if err := os.MkdirAll(filepath.Join(plainHome, "config"), 0o755); err != nil {
		t.Fatal(err)
	}
	run(withPass, 0, "keys", "migrate", "--to", "file", "--home", plainHome)
	if r := run(nil, 0, "keys", "list", "--home", plainHome); !strings.Contains(r.stdout, "file") || strings.Contains(r.stderr, "WARNING") {
		t.Fatalf("keys list after migrate:\n%s\n%s", r.stdout, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(plainHome, "keyring", "admin.json")); !os.IsNotExist(err) {
		t.Fatalf("the plain key file is still there: %v", err)
	}
	run(wrongPass, 1, "keys", "export", "admin", "--home", plainHome)
	run(withPass, 0, "keys", "export", "admin", "--home", plainHome)
	run(withPass, 1, "keys", "migrate", "--to", "test", "--home", plainHome)
}
