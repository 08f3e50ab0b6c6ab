package testnet

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	cmtcfg "github.com/cometbft/cometbft/config"
	"github.com/cometbft/cometbft/privval"

	"github.com/vchain/vchain/internal/client"
	"github.com/vchain/vchain/internal/signer"
)

// TestRemoteSigner runs a validator whose consensus key is not in its home: the key and
// its last-signed state are moved to a signer (internal/signer) that dials the node's
// priv_validator_laddr on 127.0.0.1. The node (`vchaind start`) produces blocks signed by
// that key, stops producing them when the signer stops, and resumes when a signer with the
// same key and state dials in again.
func TestRemoteSigner(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a vchaind process")
	}
	bin := Binary(t)
	dir := t.TempDir()
	ports := FreePorts(t, 3)
	rpc := fmt.Sprintf("tcp://127.0.0.1:%d", ports[1])
	laddr := fmt.Sprintf("tcp://127.0.0.1:%d", ports[2])
	hn, _ := OneValidatorHome(t, filepath.Join(dir, "node"), "remote-signer", func(c *cmtcfg.Config) {
		c.P2P.ListenAddress = fmt.Sprintf("tcp://127.0.0.1:%d", ports[0])
		c.RPC.ListenAddress = rpc
		c.PrivValidatorListenAddr = laddr
		c.Consensus.TimeoutCommit = 300 * time.Millisecond
	})

	// The consensus key leaves the node's home for the signer's directory.
	cfg := cmtcfg.DefaultConfig()
	cfg.SetRoot(hn.Paths.Root)
	signerDir := filepath.Join(dir, "signer")
	if err := os.MkdirAll(signerDir, 0o700); err != nil {
		t.Fatal(err)
	}
	keyFile, stateFile := filepath.Join(signerDir, "priv_validator_key.json"), filepath.Join(signerDir, "priv_validator_state.json")
	for from, to := range map[string]string{cfg.PrivValidatorKeyFile(): keyFile, cfg.PrivValidatorStateFile(): stateFile} {
		if err := os.Rename(from, to); err != nil {
			t.Fatal(err)
		}
	}
	startSigner := func() *signer.Signer {
		t.Helper()
		s, err := signer.Start(signer.Options{Addr: laddr, ChainID: "remote-signer", PV: privval.LoadFilePV(keyFile, stateFile)})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	sig := startSigner()

	var log bytes.Buffer
	node := exec.Command(bin, "start", "--home", hn.Paths.Root)
	node.Stdout, node.Stderr = &log, &log
	if err := node.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- node.Wait() }()
	t.Cleanup(func() {
		_ = node.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("node log:\n%s", log.String())
		}
	})
	c, err := client.New(rpc)
	if err != nil {
		t.Fatal(err)
	}
	height := func() int64 {
		st, err := c.RPC.Status(t.Context())
		if err != nil {
			return -1
		}
		return st.SyncInfo.LatestBlockHeight
	}
	// waitHeight waits, at most 60s, for height h; it fails if the node exits.
	waitHeight := func(h int64) {
		t.Helper()
		for deadline := time.Now().Add(60 * time.Second); height() < h; time.Sleep(100 * time.Millisecond) {
			select {
			case err := <-exited:
				exited <- err
				t.Fatalf("the node exited: %v", err)
			default:
			}
			if time.Now().After(deadline) {
				t.Fatalf("height %d not reached in 60s (at %d)", h, height())
			}
		}
	}
	waitHeight(3)
	if _, err := os.Stat(cfg.PrivValidatorKeyFile()); !os.IsNotExist(err) {
		t.Fatalf("the node's home holds a validator key: %v", err)
	}
	val := hn.Validator.Address
	blk, err := c.RPC.Block(t.Context(), &[]int64{3}[0])
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(blk.Block.ProposerAddress, val) || len(blk.Block.LastCommit.Signatures) != 1 ||
		!bytes.Equal(blk.Block.LastCommit.Signatures[0].ValidatorAddress, val) {
		t.Fatalf("block 3: proposer %X, last commit %v; want both by %X", blk.Block.ProposerAddress, blk.Block.LastCommit.Signatures, val)
	}
	vals, err := c.RPC.Validators(t.Context(), nil, nil, nil)
	if err != nil || len(vals.Validators) != 1 || !vals.Validators[0].PubKey.Equals(hn.Validator.PubKey) {
		t.Fatalf("validators: %v %v", vals, err)
	}

	// Without the signer nothing is signed: the chain stops.
	if err := sig.Stop(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second)
	stopped := height()
	time.Sleep(3 * time.Second)
	if h := height(); h > stopped {
		t.Fatalf("blocks %d..%d were made without the signer", stopped+1, h)
	}

	// A signer with the same key and last-signed state dials in again: blocks resume.
	sig = startSigner()
	defer sig.Stop()
	waitHeight(stopped + 2)
}
