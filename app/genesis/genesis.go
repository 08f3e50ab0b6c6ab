// Package genesis is the app state in CometBFT's genesis file: who administers the chain,
// the install threshold, the initial runtime version, and execution limits. It is fixed at
// InitChain and stored, so every node and every later replay uses the same parameters.
package genesis

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/vchain/vchain/app/modhash"
	"github.com/vchain/vchain/app/tx"
	"github.com/vchain/vchain/contracts/abi"
)

// DefaultMaxGasPerTx is the default gas limit a transaction may ask for.
const DefaultMaxGasPerTx = 50_000_000

// DefaultMaxGasPerBlock bounds the gas a proposer may pack into one block (CometBFT's
// consensus parameter block.max_gas, checked against each transaction's gas_limit when the
// mempool is reaped): 2,000 transactions at the CLI's default gas limit of 5,000,000. Only
// a block of contracts that burn all their gas in tight loops (~0.3 gas/ns measured) would
// take long to execute: about 30 s.
const DefaultMaxGasPerBlock = 10_000_000_000

// DefaultMigrationGasLimit bounds the migration a switch runs at its start height unless
// the genesis says otherwise: as much gas as a full block (DefaultMaxGasPerBlock), since the
// migration runs in the block, before its transactions.
const DefaultMigrationGasLimit = DefaultMaxGasPerBlock

// DefaultInstallThreshold is the share of voting power that must have installed a version
// before it can be activated.
var DefaultInstallThreshold = Fraction{Num: 2, Den: 3}

// AppState is the "app_state" object of the genesis file.
type AppState struct {
	// Admins are the addresses allowed to register releases and schedule upgrades.
	Admins []string `json:"admins"`
	// InstallThreshold is the share of voting power, "N/D", whose validators must attest a
	// version before it can be activated.
	InstallThreshold Fraction `json:"install_threshold"`
	// Runtime is the version executed from the first block.
	Runtime RuntimeRef `json:"runtime"`
	// Validators map each genesis validator to the operator key that attests for it.
	Validators []ValidatorOperator `json:"validators"`
	// MaxGasPerTx bounds a transaction's gas_limit.
	MaxGasPerTx uint64 `json:"max_gas_per_tx"`
	// AdminThreshold is how many admins must approve an admin action; absent or 0 means 1,
	// where any one admin acts alone.
	AdminThreshold uint32 `json:"admin_threshold,omitempty"`
	// ProposalExpiry is how many blocks a proposal waits for approvals; absent or 0 means
	// DefaultProposalExpiry.
	ProposalExpiry uint64 `json:"proposal_expiry_blocks,omitempty"`
	// MigrationGasLimit bounds the gas of the migration a runtime switch runs at its start
	// height (all its contracts together); a migration that needs more fails and the
	// switch is aborted. Absent or 0 means DefaultMigrationGasLimit.
	MigrationGasLimit uint64 `json:"migration_gas_limit,omitempty"`
	// ContractState is the contracts' state at genesis: contract name -> key -> value, in
	// the contract's own key space and as the contract stores them (the kv contract its
	// values, the bank decimal balances), so a chain that takes over the records of
	// another system starts with them. It is written into the state at InitChain and not
	// kept with the chain parameters.
	ContractState map[string]map[string]string `json:"contract_state,omitempty"`
}

// DefaultProposalExpiry is how many blocks an admin proposal waits for approvals unless the
// genesis says otherwise: about an hour at one block a second.
const DefaultProposalExpiry = 3600

// RuntimeRef names a runtime version and the sha256 of its module.
type RuntimeRef struct {
	Version    uint64 `json:"version"`
	CodeSHA256 string `json:"code_sha256"`
	// Profile is the execution profile the version runs under (app/profile). Absent or
	// 0 means profile 1, the rules of the first release.
	Profile uint32 `json:"profile,omitempty"`
}

// ValidatorOperator binds a validator (its CometBFT address) to its operator account.
type ValidatorOperator struct {
	Validator string `json:"validator"`
	Operator  string `json:"operator"`
	Moniker   string `json:"moniker,omitempty"`
}

// Fraction is a ratio written "N/D" in JSON.
type Fraction struct {
	Num, Den uint64
}

// String renders f as "N/D".
func (f Fraction) String() string { return fmt.Sprintf("%d/%d", f.Num, f.Den) }

// MarshalJSON writes "N/D", or "" for the zero value (meaning: the default).
func (f Fraction) MarshalJSON() ([]byte, error) {
	if f == (Fraction{}) {
		return json.Marshal("")
	}
	return json.Marshal(f.String())
}

// UnmarshalJSON reads "N/D".
func (f *Fraction) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("fraction: want a string \"N/D\": %w", err)
	}
	if s == "" {
		*f = Fraction{}
		return nil
	}
	parsed, err := ParseFraction(s)
	if err != nil {
		return err
	}
	*f = parsed
	return nil
}

// ParseFraction parses "N/D" with 0 < N <= D.
func ParseFraction(s string) (Fraction, error) {
	n, d, ok := strings.Cut(s, "/")
	num, err1 := strconv.ParseUint(strings.TrimSpace(n), 10, 32)
	den, err2 := strconv.ParseUint(strings.TrimSpace(d), 10, 32)
	if !ok || err1 != nil || err2 != nil || num == 0 || den == 0 || num > den {
		return Fraction{}, fmt.Errorf("fraction %q: want \"N/D\" with 0 < N <= D", s)
	}
	return Fraction{Num: num, Den: den}, nil
}

// Validate checks the app state and fills defaults.
func (a *AppState) Validate() error {
	if len(a.Admins) == 0 {
		return fmt.Errorf("app_state.admins: at least one admin address is required")
	}
	for i, s := range a.Admins {
		addr, err := tx.ParseAddress(s)
		if err != nil {
			return fmt.Errorf("app_state.admins[%d]: %w", i, err)
		}
		a.Admins[i] = addr.String()
	}
	if a.AdminThreshold == 0 {
		a.AdminThreshold = 1
	}
	if int(a.AdminThreshold) > len(a.Admins) {
		return fmt.Errorf("app_state.admin_threshold: %d is more than the %d admins", a.AdminThreshold, len(a.Admins))
	}
	seen := map[string]bool{}
	for i, s := range a.Admins {
		if seen[s] {
			return fmt.Errorf("app_state.admins[%d]: %s is listed twice", i, s)
		}
		seen[s] = true
	}
	if a.ProposalExpiry == 0 {
		a.ProposalExpiry = DefaultProposalExpiry
	}
	if a.InstallThreshold == (Fraction{}) {
		a.InstallThreshold = DefaultInstallThreshold
	}
	if _, err := ParseFraction(a.InstallThreshold.String()); err != nil {
		return fmt.Errorf("app_state.install_threshold: %w", err)
	}
	if a.Runtime.Version == 0 {
		return fmt.Errorf("app_state.runtime.version: must be 1 or more")
	}
	h, err := modhash.Parse(a.Runtime.CodeSHA256)
	if err != nil {
		return fmt.Errorf("app_state.runtime.code_sha256: %w", err)
	}
	a.Runtime.CodeSHA256 = h.String()
	if a.Runtime.Profile == 0 {
		a.Runtime.Profile = 1
	}
	for i, v := range a.Validators {
		if _, err := tx.ParseAddress(v.Validator); err != nil {
			return fmt.Errorf("app_state.validators[%d].validator: %w", i, err)
		}
		if _, err := tx.ParseAddress(v.Operator); err != nil {
			return fmt.Errorf("app_state.validators[%d].operator: %w", i, err)
		}
	}
	if a.MaxGasPerTx == 0 {
		a.MaxGasPerTx = DefaultMaxGasPerTx
	}
	if a.MigrationGasLimit == 0 {
		a.MigrationGasLimit = DefaultMigrationGasLimit
	}
	for c, kvs := range a.ContractState {
		if !tx.ValidName(c) {
			return fmt.Errorf("app_state.contract_state: contract %q: names are 1-64 characters of [a-z0-9_]", c)
		}
		for k, v := range kvs {
			if len(k) == 0 || len(k) > abi.MaxKeyLen {
				return fmt.Errorf("app_state.contract_state.%s: key %.40q: keys are 1-%d bytes", c, k, abi.MaxKeyLen)
			}
			if len(v) > abi.MaxValueLen {
				return fmt.Errorf("app_state.contract_state.%s.%.40s: value of %d bytes, at most %d", c, k, len(v), abi.MaxValueLen)
			}
		}
	}
	return nil
}

// Parse decodes and validates the app_state JSON.
func Parse(raw []byte) (*AppState, error) {
	var a AppState
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&a); err != nil {
		return nil, fmt.Errorf("genesis app_state: %w", err)
	}
	if err := a.Validate(); err != nil {
		return nil, fmt.Errorf("genesis %w", err)
	}
	return &a, nil
}
