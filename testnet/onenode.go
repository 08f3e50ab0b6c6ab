package testnet

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"testing"

	cmtcfg "github.com/cometbft/cometbft/config"

	"github.com/vchain/vchain/internal/home"
	"github.com/vchain/vchain/internal/keyring"
	"github.com/vchain/vchain/internal/testwasm"
)

// OneValidatorHome creates, in dir, the home of a chain's only validator, running v1, with
// its admin key in the home's keyring; config adjusts the node's CometBFT config.
func OneValidatorHome(t testing.TB, dir, chainID string, config func(*cmtcfg.Config)) (*home.Node, *keyring.Key) {
	t.Helper()
	wasm := testwasm.Module(t, "v1")
	hn, err := home.InitNode(context.Background(), dir, home.NodeOptions{Runtime: wasm, App: AppConfig(), Config: config})
	if err != nil {
		t.Fatal(err)
	}
	admin, err := keyring.Open(hn.Paths.Keyring()).Add(home.AdminKey)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(wasm)
	doc, err := home.BuildGenesis([]*home.Node{hn}, home.GenesisOptions{ChainID: chainID, Admins: []string{admin.Address.String()}, RuntimeSHA256: hex.EncodeToString(sum[:])})
	if err != nil {
		t.Fatal(err)
	}
	if err := home.WriteGenesis(doc, []*home.Node{hn}); err != nil {
		t.Fatal(err)
	}
	return hn, admin
}
