// Package signer is a minimal remote signer for CometBFT's privval socket protocol: it
// keeps a validator's consensus key (CometBFT's FilePV: the key file and its last-signed
// state, which refuses to sign twice at one height, round and step) away from the node,
// dials the node's priv_validator_laddr and answers its signing requests.
//
// It exists to test that a vchain node runs with its consensus key elsewhere. A validator
// in production uses a dedicated signer (tmkms, Horcrux) with an HSM or threshold keys.
package signer

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/cometbft/cometbft/crypto/ed25519"
	cmtlog "github.com/cometbft/cometbft/libs/log"
	"github.com/cometbft/cometbft/privval"
	cmttypes "github.com/cometbft/cometbft/types"
)

// Options configure Start.
type Options struct {
	// Addr is the node's priv_validator_laddr, tcp://HOST:PORT.
	Addr    string
	ChainID string
	// PV signs; privval.LoadFilePV(key, state) for a key kept in files.
	PV cmttypes.PrivValidator
	// DialRetries and RetryWait bound how long the signer keeps dialing a node that is not
	// listening yet, or again after a dropped connection (default 600 x 100ms: a minute).
	DialRetries int
	RetryWait   time.Duration
	Logger      cmtlog.Logger
}

// Signer is a running remote signer.
type Signer struct {
	server *privval.SignerServer
}

// Start dials o.Addr in the background and serves signing requests until Stop (or until
// the node is unreachable for longer than the retries allow).
func Start(o Options) (*Signer, error) {
	if !strings.HasPrefix(o.Addr, "tcp://") {
		return nil, fmt.Errorf("signer: address %q: want tcp://HOST:PORT", o.Addr)
	}
	if o.PV == nil || o.ChainID == "" {
		return nil, errors.New("signer: a validator key and a chain id are required")
	}
	if o.DialRetries == 0 {
		o.DialRetries = 600
	}
	if o.RetryWait == 0 {
		o.RetryWait = 100 * time.Millisecond
	}
	if o.Logger == nil {
		o.Logger = cmtlog.NewNopLogger()
	}
	// The connection key only authenticates this end of CometBFT's secret connection; the
	// node does not pin it (v0.38), so the socket must stay on a trusted network.
	dialer := privval.DialTCPFn(o.Addr, 5*time.Second, ed25519.GenPrivKey())
	ep := privval.NewSignerDialerEndpoint(o.Logger, dialer,
		privval.SignerDialerEndpointConnRetries(o.DialRetries),
		privval.SignerDialerEndpointRetryWaitInterval(o.RetryWait))
	ss := privval.NewSignerServer(ep, o.ChainID, o.PV)
	if err := ss.Start(); err != nil {
		return nil, fmt.Errorf("signer: %w", err)
	}
	return &Signer{server: ss}, nil
}

// Stop closes the connection and stops serving.
func (s *Signer) Stop() error { return s.server.Stop() }
