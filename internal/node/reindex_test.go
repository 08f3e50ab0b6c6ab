package node

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	cmtcfg "github.com/cometbft/cometbft/config"
	cmtlog "github.com/cometbft/cometbft/libs/log"
	txidxkv "github.com/cometbft/cometbft/state/txindex/kv"

	"github.com/vchain/vchain/internal/client"
	"github.com/vchain/vchain/internal/home"
	"github.com/vchain/vchain/internal/keyring"
	"github.com/vchain/vchain/internal/testwasm"
)

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// TestReindexTail: a block whose transaction was never indexed (a process killed between
// saving the block and indexing it, as the soak test saw) is indexed again before the node
// starts, so the transaction is found by hash; a second pass has nothing to do.
func TestReindexTail(t *testing.T) {
	ctx := context.Background()
	wasm := testwasm.Module(t, "v1")
	appCfg := home.DefaultAppConfig()
	appCfg.RuntimeCacheDir = testwasm.CacheDir()
	rpc := fmt.Sprintf("tcp://127.0.0.1:%d", freePort(t))
	hn, err := home.InitNode(ctx, t.TempDir(), home.NodeOptions{Moniker: "n0", Runtime: wasm, App: appCfg,
		Config: func(c *cmtcfg.Config) {
			c.P2P.ListenAddress = fmt.Sprintf("tcp://127.0.0.1:%d", freePort(t))
			c.RPC.ListenAddress = rpc
			c.Consensus.TimeoutCommit = 100 * time.Millisecond
			c.Consensus.CreateEmptyBlocks = false // the block of the transaction stays within reindexDepth of the top
			c.Consensus.PeerQueryMaj23SleepDuration = 100 * time.Millisecond
			c.Instrumentation.Prometheus = false
		}})
	if err != nil {
		t.Fatal(err)
	}
	admin, err := keyring.Open(hn.Paths.Keyring()).Add(home.AdminKey)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(wasm)
	doc, err := home.BuildGenesis([]*home.Node{hn}, home.GenesisOptions{ChainID: "reindex-test",
		Admins: []string{admin.Address.String()}, RuntimeSHA256: hex.EncodeToString(sum[:])})
	if err != nil {
		t.Fatal(err)
	}
	if err := home.WriteGenesis(doc, []*home.Node{hn}); err != nil {
		t.Fatal(err)
	}
	cfg, err := LoadCometConfig(hn.Paths.Root, nil)
	if err != nil {
		t.Fatal(err)
	}
	log := cmtlog.NewNopLogger()

	// Run the node until one transaction is committed (and indexed), then stop it.
	app, err := OpenApp(ctx, hn.Paths, appCfg, log)
	if err != nil {
		t.Fatal(err)
	}
	comet, err := NewComet(cfg, app, log)
	if err != nil {
		t.Fatal(err)
	}
	if err := comet.Start(); err != nil {
		t.Fatal(err)
	}
	c, err := client.New(rpc)
	if err != nil {
		t.Fatal(err)
	}
	raw, _, err := c.SignCall(ctx, admin, client.CallTx{Contract: "kv", Method: "set", GasLimit: 1_000_000,
		Args: []byte(`{"key":"k","value":"v"}`)})
	if err != nil {
		t.Fatal(err)
	}
	hash, err := c.Broadcast(ctx, raw)
	if err != nil {
		t.Fatal(err)
	}
	res, err := c.WaitTx(ctx, hash, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	Stop(comet, log)
	if err := app.Close(ctx); err != nil {
		t.Fatal(err)
	}

	// CometBFT v0.38's Stop leaves the tx_index database open (locked) in this process: go
	// on with a copy of the stopped node's home, as a new process would find it.
	root := filepath.Join(t.TempDir(), "copy")
	if err := os.CopyFS(root, os.DirFS(hn.Paths.Root)); err != nil {
		t.Fatal(err)
	}
	cfg.SetRoot(root)

	// Take the transaction out of the index, as if the process had died before indexing.
	indexed := func() bool {
		db, err := cmtcfg.DefaultDBProvider(&cmtcfg.DBContext{ID: "tx_index", Config: cfg})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		got, err := txidxkv.NewTxIndex(db).Get(hash)
		if err != nil {
			t.Fatal(err)
		}
		return got != nil && got.Height == res.Height
	}
	db, err := cmtcfg.DefaultDBProvider(&cmtcfg.DBContext{ID: "tx_index", Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.DeleteSync(hash); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if indexed() {
		t.Fatal("the transaction is still indexed")
	}

	n, err := reindexTail(cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	if n < 1 || !indexed() {
		t.Fatalf("reindexed %d blocks; transaction of height %d indexed: %v", n, res.Height, indexed())
	}
	if n, err := reindexTail(cfg, log); err != nil || n != 0 {
		t.Fatalf("second pass: reindexed %d blocks, %v; want nothing to do", n, err)
	}
}
