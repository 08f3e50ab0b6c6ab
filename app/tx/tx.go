// Package tx is the transaction format: decoding, sign bytes, signing and the stateless
// checks. Nonce checks need state and live in the block executor and the mempool checker.
package tx

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	"github.com/vchain/vchain/app/codes"
	"github.com/vchain/vchain/contracts/abi"
	txv1 "github.com/vchain/vchain/proto/vchain/tx/v1"
)

// SignDomain separates vchain transaction signatures from any other use of the same key:
// the signed message is SignDomain followed by the exact body bytes.
const SignDomain = "vchain/tx/v1\n"

// MaxTxBytes bounds the size of an encoded transaction.
const MaxTxBytes = 128 << 10

// AddressLen is the length of an address in bytes.
const AddressLen = 20

// Address identifies an account: the first 20 bytes of sha256(ed25519 public key), the same
// derivation CometBFT uses for validator addresses.
type Address [AddressLen]byte

// AddressOf derives the address of an ed25519 public key.
func AddressOf(pub ed25519.PublicKey) Address {
	sum := sha256.Sum256(pub)
	var a Address
	copy(a[:], sum[:AddressLen])
	return a
}

// String returns the address as upper-case hex, like CometBFT addresses. Every
// transaction's result carries its sender's, so it avoids fmt.
func (a Address) String() string {
	const digits = "0123456789ABCDEF"
	var b [2 * AddressLen]byte
	for i, c := range a {
		b[2*i], b[2*i+1] = digits[c>>4], digits[c&0x0f]
	}
	return string(b[:])
}

// ParseAddress parses a hex address (either case).
func ParseAddress(s string) (Address, error) {
	var a Address
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != AddressLen {
		return a, fmt.Errorf("address %q: want %d hex-encoded bytes", s, AddressLen)
	}
	copy(a[:], b)
	return a, nil
}

// Tx is a decoded, signature-checked transaction.
type Tx struct {
	Body   txv1.TxBody
	Sender Address
	// Hash is sha256 of the raw bytes, the hash CometBFT indexes the transaction by.
	Hash [32]byte
}

// SignBytes returns the bytes a sender signs for an encoded body.
func SignBytes(body []byte) []byte {
	b := make([]byte, 0, len(SignDomain)+len(body))
	b = append(b, SignDomain...)
	return append(b, body...)
}

// Sign encodes body, signs it with priv and returns the encoded envelope.
func Sign(priv ed25519.PrivateKey, body *txv1.TxBody) ([]byte, error) {
	bz, err := body.Marshal()
	if err != nil {
		return nil, fmt.Errorf("encode tx body: %w", err)
	}
	env := txv1.Tx{
		Body:      bz,
		PubKey:    priv.Public().(ed25519.PublicKey),
		Signature: ed25519.Sign(priv, SignBytes(bz)),
	}
	out, err := env.Marshal()
	if err != nil {
		return nil, fmt.Errorf("encode tx: %w", err)
	}
	return out, nil
}

// Limits are the chain parameters the stateless checks need.
type Limits struct {
	ChainID     string
	MaxGasPerTx uint64
}

// Decode decodes raw and performs every check that needs no state: size, encoding,
// signature, chain id, gas limit and message shape (names, and the size of call args). The returned error is a *codes.Error.
func Decode(raw []byte, lim Limits) (*Tx, *codes.Error) { return DecodeCached(raw, lim, nil) }

// DecodeCached is Decode that skips the signature verification of bytes sigs has seen
// verify, and remembers the ones it verifies (sigs may be nil).
func DecodeCached(raw []byte, lim Limits, sigs *SigCache) (*Tx, *codes.Error) {
	p, seen, cerr := parseCached(raw, sigs)
	if cerr != nil {
		return nil, cerr
	}
	if !seen {
		if !sigs.verify(p.env.PubKey, SignBytes(p.env.Body), p.env.Signature) {
			return nil, p.badSignature()
		}
		sigs.add(p)
	}
	return p.finish(lim)
}

// parsed is a transaction decoded up to its signature check. Once in a SigCache it is
// shared, and nothing changes it.
type parsed struct {
	tx  *Tx
	env txv1.Tx
}

// clone returns a copy of p whose Tx the caller may keep: the Tx struct is copied, the
// decoded fields it points to are shared, as Tx's users only read them.
func (p *parsed) clone() *parsed {
	t := *p.tx
	return &parsed{tx: &t, env: p.env}
}

// parseCached runs the checks that come before the signature's (size, encoding, and the
// shape of the key and signature), or takes the parse sigs remembers for raw, if any (a
// transaction whose signature verified), and reports whether it did.
func parseCached(raw []byte, sigs *SigCache) (*parsed, bool, *codes.Error) {
	if len(raw) > MaxTxBytes {
		return nil, false, codes.Errorf(codes.TxTooLarge, "transaction is %d bytes, the maximum is %d", len(raw), MaxTxBytes)
	}
	h := sha256.Sum256(raw)
	if seen := sigs.lookup(h); seen != nil {
		return seen.clone(), true, nil
	}
	p, cerr := parseFresh(raw, h)
	return p, false, cerr
}

// parseFresh decodes raw, whose sha256 is h.
func parseFresh(raw []byte, h [32]byte) (*parsed, *codes.Error) {
	p := &parsed{}
	if err := p.env.Unmarshal(raw); err != nil {
		return nil, codes.Errorf(codes.Undecodable, "decode envelope: %v", err)
	}
	if len(p.env.Body) == 0 {
		return nil, codes.Errorf(codes.Undecodable, "empty body")
	}
	p.tx = &Tx{Hash: h}
	if err := p.tx.Body.Unmarshal(p.env.Body); err != nil {
		return nil, codes.Errorf(codes.Undecodable, "decode body: %v", err)
	}
	if len(p.env.PubKey) == 0 || len(p.env.Signature) == 0 {
		return nil, codes.Errorf(codes.Unsigned, "transaction has no public key or no signature")
	}
	if len(p.env.PubKey) != ed25519.PublicKeySize {
		return nil, codes.Errorf(codes.BadSignature, "public key is %d bytes, want %d", len(p.env.PubKey), ed25519.PublicKeySize)
	}
	if len(p.env.Signature) != ed25519.SignatureSize {
		return nil, codes.Errorf(codes.BadSignature, "signature is %d bytes, want %d", len(p.env.Signature), ed25519.SignatureSize)
	}
	p.tx.Sender = AddressOf(p.env.PubKey)
	return p, nil
}

func (p *parsed) badSignature() *codes.Error {
	return codes.Errorf(codes.BadSignature, "signature does not verify for public key %X", p.env.PubKey)
}

// finish runs the checks that come after the signature's, on a verified transaction.
func (p *parsed) finish(lim Limits) (*Tx, *codes.Error) {
	t := p.tx
	if t.Body.ChainId != lim.ChainID {
		return nil, codes.Errorf(codes.WrongChain, "transaction is for chain %q, this is %q", t.Body.ChainId, lim.ChainID)
	}
	if t.Body.Nonce == 0 {
		return nil, codes.Errorf(codes.NonceReplayed, "nonce 0 is never valid: the first nonce is 1")
	}
	if t.Body.GasLimit == 0 || t.Body.GasLimit > lim.MaxGasPerTx {
		return nil, codes.Errorf(codes.BadGasLimit, "gas_limit %d: must be between 1 and %d", t.Body.GasLimit, lim.MaxGasPerTx)
	}
	if err := checkMsg(&t.Body); err != nil {
		return nil, err
	}
	return t, nil
}

func checkMsg(b *txv1.TxBody) *codes.Error {
	switch m := b.Msg.(type) {
	case *txv1.TxBody_Call:
		c := m.Call
		if c == nil || c.Contract == "" || c.Method == "" {
			return codes.Errorf(codes.InvalidMessage, "call needs a contract and a method")
		}
		if !ValidName(c.Contract) || !ValidName(c.Method) {
			return codes.Errorf(codes.InvalidMessage, "contract and method names are 1-64 characters of [a-z0-9_]")
		}
		// The runtime refuses larger args without running the call; refusing them here
		// keeps them out of the mempool and out of blocks, like every other static limit.
		if len(c.Args) > abi.MaxArgsLen {
			return codes.Errorf(codes.InvalidMessage, "call arguments are %d bytes, the maximum is %d", len(c.Args), abi.MaxArgsLen)
		}
		return nil
	case *txv1.TxBody_RegisterRelease:
		r := m.RegisterRelease
		if r == nil || r.Version == 0 || len(r.CodeSha256) != 32 || len(r.Note) > 256 {
			return codes.Errorf(codes.InvalidMessage, "register_release needs a version >= 1, a 32-byte sha256 and a note of at most 256 bytes")
		}
		if r.Profile == 0 {
			return codes.Errorf(codes.InvalidMessage, "register_release needs an execution profile >= 1")
		}
		return nil
	case *txv1.TxBody_ScheduleUpgrade:
		s := m.ScheduleUpgrade
		if s == nil || s.Version == 0 {
			return codes.Errorf(codes.InvalidMessage, "schedule_upgrade needs a version >= 1")
		}
		switch a := s.Activation.(type) {
		case *txv1.ScheduleUpgrade_NextBlock:
			if !a.NextBlock {
				return codes.Errorf(codes.InvalidMessage, "schedule_upgrade: next_block must be true when set")
			}
		case *txv1.ScheduleUpgrade_Height:
			if a.Height <= 0 {
				return codes.Errorf(codes.InvalidMessage, "schedule_upgrade: height must be positive")
			}
		case *txv1.ScheduleUpgrade_InBlocks:
			if a.InBlocks == 0 || a.InBlocks > 1<<40 {
				return codes.Errorf(codes.InvalidMessage, "schedule_upgrade: in_blocks must be at least 1")
			}
		default:
			return codes.Errorf(codes.InvalidMessage, "schedule_upgrade needs an activation: next_block, height or in_blocks")
		}
		return nil
	case *txv1.TxBody_CancelUpgrade:
		if m.CancelUpgrade == nil {
			return codes.Errorf(codes.InvalidMessage, "empty cancel_upgrade")
		}
		return nil
	case *txv1.TxBody_AttestInstall:
		a := m.AttestInstall
		if a == nil {
			return codes.Errorf(codes.InvalidMessage, "empty attest_install")
		}
		if _, err := ParseAddress(a.Validator); err != nil {
			return codes.Errorf(codes.InvalidMessage, "attest_install: validator: %v", err)
		}
		if len(a.Versions) > 256 {
			return codes.Errorf(codes.InvalidMessage, "attest_install: %d versions, at most 256", len(a.Versions))
		}
		seen := map[uint64]bool{}
		for _, v := range a.Versions {
			if v == nil || v.Version == 0 || len(v.CodeSha256) != 32 || seen[v.Version] {
				return codes.Errorf(codes.InvalidMessage, "attest_install: each version must be >= 1, listed once, with a 32-byte sha256")
			}
			seen[v.Version] = true
		}
		if len(a.Profiles) > 256 {
			return codes.Errorf(codes.InvalidMessage, "attest_install: %d profiles, at most 256", len(a.Profiles))
		}
		seenProfile := map[uint32]bool{}
		for _, p := range a.Profiles {
			if p == 0 || seenProfile[p] {
				return codes.Errorf(codes.InvalidMessage, "attest_install: each profile must be >= 1 and listed once")
			}
			seenProfile[p] = true
		}
		return nil
	case *txv1.TxBody_AddValidator, *txv1.TxBody_UpdateValidator, *txv1.TxBody_RotateOperator,
		*txv1.TxBody_SetAdmins, *txv1.TxBody_Propose, *txv1.TxBody_Approve:
		return checkMembershipMsg(b)
	case nil:
		return codes.Errorf(codes.InvalidMessage, "transaction carries no message")
	default:
		return codes.Errorf(codes.InvalidMessage, "unsupported message type %T", m)
	}
}

// ValidName reports whether s may name a contract or a method: 1-64 characters of
// [a-z0-9_].
func ValidName(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_') {
			return false
		}
	}
	return true
}
