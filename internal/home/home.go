// Package home lays out and initialises a vchain node's home directory:
//
//	config/config.toml     CometBFT settings (the usual file)
//	config/app.toml        vchain app settings (VCHAIN_* environment variables override)
//	config/client.toml     client settings: the keyring backend
//	config/genesis.json    shared by every node of a chain
//	config/node_key.json, config/priv_validator_key.json
//	data/                  CometBFT's block store and state; data/vchain.db is the app store
//	runtime/vN.wasm        installed runtime versions; runtime/cache compiled code
//	keyring/NAME.key|json  account keys (operator, and admin on the genesis node): .key
//	                       encrypted (backend file), .json plain (backend test)
package home

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	cmtcfg "github.com/cometbft/cometbft/config"
	"github.com/cometbft/cometbft/p2p"
	"github.com/cometbft/cometbft/privval"
	cmttypes "github.com/cometbft/cometbft/types"

	"github.com/vchain/vchain/app/genesis"
	"github.com/vchain/vchain/app/profile"
	"github.com/vchain/vchain/app/runtime"
	"github.com/vchain/vchain/internal/keyring"
)

// Key names created in every home.
const (
	AdminKey    = "admin"
	OperatorKey = "operator"
)

// Paths of one home directory.
type Paths struct{ Root string }

// Config is config/.
func (p Paths) Config() string { return filepath.Join(p.Root, "config") }

// Genesis is config/genesis.json.
func (p Paths) Genesis() string { return filepath.Join(p.Root, "config", "genesis.json") }

// CometConfig is config/config.toml.
func (p Paths) CometConfig() string { return filepath.Join(p.Root, "config", "config.toml") }

// AppConfig is config/app.toml.
func (p Paths) AppConfig() string { return filepath.Join(p.Root, "config", "app.toml") }

// Data is data/.
func (p Paths) Data() string { return filepath.Join(p.Root, "data") }

// Runtime is runtime/.
func (p Paths) Runtime() string { return filepath.Join(p.Root, "runtime") }

// Keyring is keyring/.
func (p Paths) Keyring() string { return filepath.Join(p.Root, "keyring") }

// Exists reports whether the home already holds a node (a genesis or a data directory).
func (p Paths) Exists() bool {
	for _, f := range []string{p.Genesis(), p.Data()} {
		if _, err := os.Stat(f); err == nil {
			return true
		}
	}
	return false
}

// Node is what initialising one home produced: the identities that go into the genesis.
type Node struct {
	Paths     Paths
	Moniker   string
	Validator cmttypes.GenesisValidator
	NodeID    string
	Operator  *keyring.Key
}

// The listen addresses of a new home: CometBFT's ports on loopback. CometBFT's own default
// p2p.laddr is tcp://0.0.0.0:26656, which opens a port on every interface of a machine
// that only runs a local chain.
const (
	LocalP2PAddress = "tcp://127.0.0.1:26656"
	LocalRPCAddress = "tcp://127.0.0.1:26657"
)

// NodeOptions configure InitNode.
type NodeOptions struct {
	Moniker string
	// Runtime is the module of runtime version 1, installed into the home. Nil installs
	// none: a node joining by state sync gets its modules from the snapshot.
	Runtime []byte
	// Config, if set, adjusts the CometBFT config before it is written (ports, peers...).
	// It starts from CometBFT's defaults with p2p and RPC on loopback (LocalP2PAddress,
	// LocalRPCAddress): a node is reachable from other machines only where asked.
	Config func(*cmtcfg.Config)
	// Force wipes an existing home first.
	Force bool
	// Power is the validator's voting power (default 10).
	Power int64
	// App is written to config/app.toml (DefaultAppConfig when zero).
	App AppConfig
	// Keyring stores the operator key; its backend goes into config/client.toml. The
	// test backend (plain files) when zero: test networks. `vchaind init` asks for file.
	Keyring keyring.Options
}

// InitNode creates a home with CometBFT config and keys, an operator key, app.toml and the
// runtime v1 module installed. It writes no genesis: see WriteGenesis.
func InitNode(ctx context.Context, root string, o NodeOptions) (*Node, error) {
	p := Paths{Root: root}
	if p.Exists() {
		if !o.Force {
			return nil, fmt.Errorf("%s already holds a node (use --force to wipe it and start a new chain)", root)
		}
		for _, d := range []string{p.Config(), p.Data(), p.Runtime(), p.Keyring()} {
			if err := os.RemoveAll(d); err != nil {
				return nil, fmt.Errorf("wipe %s: %w", d, err)
			}
		}
	}
	if o.Moniker == "" {
		o.Moniker = "vchain-node"
	}
	if o.Power == 0 {
		o.Power = 10
	}
	cfg := cmtcfg.DefaultConfig()
	cfg.SetRoot(root)
	cfg.Moniker = o.Moniker
	cfg.P2P.ListenAddress = LocalP2PAddress
	cfg.RPC.ListenAddress = LocalRPCAddress
	if o.Config != nil {
		o.Config(cfg)
	}
	if err := cfg.ValidateBasic(); err != nil {
		return nil, fmt.Errorf("cometbft config: %w", err)
	}
	cmtcfg.EnsureRoot(root)
	cmtcfg.WriteConfigFile(p.CometConfig(), cfg)
	if o.App == (AppConfig{}) {
		o.App = DefaultAppConfig()
	}
	if err := WriteAppConfig(p.AppConfig(), o.App); err != nil {
		return nil, err
	}
	pv := privval.GenFilePV(cfg.PrivValidatorKeyFile(), cfg.PrivValidatorStateFile())
	pv.Save()
	nk, err := p2p.LoadOrGenNodeKey(cfg.NodeKeyFile())
	if err != nil {
		return nil, fmt.Errorf("node key: %w", err)
	}
	if o.Keyring.Backend == "" {
		o.Keyring.Backend = keyring.Test
	}
	kr, err := keyring.New(p.Keyring(), o.Keyring)
	if err != nil {
		return nil, err
	}
	if err := WriteClientConfig(p.ClientConfig(), ClientConfig{KeyringBackend: string(kr.Backend())}); err != nil {
		return nil, err
	}
	op, err := kr.Add(OperatorKey)
	if err != nil {
		return nil, err
	}
	mgr, err := runtime.NewManager(ctx, p.Runtime(), o.App.RuntimeOptions()...)
	if err != nil {
		return nil, err
	}
	defer mgr.Close(ctx)
	if o.Runtime != nil {
		if _, err := mgr.Install(ctx, 1, o.Runtime); err != nil {
			return nil, err
		}
	}
	pub, err := pv.GetPubKey()
	if err != nil {
		return nil, err
	}
	return &Node{
		Paths:     p,
		Moniker:   o.Moniker,
		Validator: cmttypes.GenesisValidator{Address: pub.Address(), PubKey: pub, Power: o.Power, Name: o.Moniker},
		NodeID:    string(nk.ID()),
		Operator:  op,
	}, nil
}

// GenesisOptions configure a chain's genesis.
type GenesisOptions struct {
	ChainID string
	Admins  []string
	// RuntimeSHA256 is the sha256 (hex) of runtime version 1.
	RuntimeSHA256    string
	InstallThreshold genesis.Fraction
	// Time is the genesis time (now when zero).
	Time time.Time
	// ContractState is app_state.contract_state (see genesis.AppState).
	ContractState map[string]map[string]string
}

// BuildGenesis returns the genesis document of a chain whose validators are nodes.
func BuildGenesis(nodes []*Node, o GenesisOptions) (*cmttypes.GenesisDoc, error) {
	if o.ChainID == "" {
		return nil, errors.New("genesis: a chain id is required")
	}
	app := genesis.AppState{
		Admins:           o.Admins,
		InstallThreshold: o.InstallThreshold,
		Runtime:          genesis.RuntimeRef{Version: 1, CodeSHA256: o.RuntimeSHA256, Profile: profile.Latest()},
		ContractState:    o.ContractState,
	}
	doc := &cmttypes.GenesisDoc{
		ChainID:         o.ChainID,
		GenesisTime:     o.Time,
		InitialHeight:   1,
		ConsensusParams: cmttypes.DefaultConsensusParams(),
	}
	if doc.GenesisTime.IsZero() {
		doc.GenesisTime = time.Now().UTC().Truncate(time.Second)
	}
	doc.ConsensusParams.Version.App = 1
	doc.ConsensusParams.Block.MaxGas = genesis.DefaultMaxGasPerBlock
	for _, n := range nodes {
		doc.Validators = append(doc.Validators, n.Validator)
		app.Validators = append(app.Validators, genesis.ValidatorOperator{
			Validator: n.Validator.Address.String(), Operator: n.Operator.Address.String(), Moniker: n.Moniker,
		})
	}
	if err := app.Validate(); err != nil {
		return nil, fmt.Errorf("genesis %w", err)
	}
	raw, err := json.MarshalIndent(app, "", "  ")
	if err != nil {
		return nil, err
	}
	doc.AppState = raw
	if err := doc.ValidateAndComplete(); err != nil {
		return nil, fmt.Errorf("genesis: %w", err)
	}
	return doc, nil
}

// WriteGenesis saves doc into every node's home.
func WriteGenesis(doc *cmttypes.GenesisDoc, nodes []*Node) error {
	for _, n := range nodes {
		if err := doc.SaveAs(n.Paths.Genesis()); err != nil {
			return fmt.Errorf("write genesis for %s: %w", n.Moniker, err)
		}
	}
	return nil
}
