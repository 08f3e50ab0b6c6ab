package tx

import (
	"crypto/sha256"
	"encoding/binary"
	"runtime"
	"sync"

	voi "github.com/oasisprotocol/curve25519-voi/primitives/ed25519"

	"github.com/vchain/vchain/app/codes"
)

// Decoded is one transaction of a block after DecodeBlock: Tx when it passed the stateless
// checks, else Err.
type Decoded struct {
	Tx  *Tx
	Err *codes.Error
}

// minBatch is the number of unverified signatures from which a batch is worth it.
const minBatch = 16

// DecodeBlock decodes a block's transactions with exactly the results DecodeCached gives
// one by one, faster: the signatures sigs has not seen verify in batches (about half the
// cost of one by one for a thousand), split over the cores. Most transactions of a block
// were verified by CheckTx and cost a cache lookup; the others come from a proposer whose
// mempool this node's did not share, and verifying them is the largest cost of a block, on
// the path of consensus. Under ZIP-215 (see verifyOptions) a batch accepts exactly when
// every signature in it verifies on its own; a batch that fails is verified one by one, so
// each transaction gets its own verdict.
func DecodeBlock(raws [][]byte, lim Limits, sigs *SigCache) []Decoded {
	out := make([]Decoded, len(raws))
	workers := min(runtime.GOMAXPROCS(0), 8, max(1, len(raws)/minBatch))
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		lo, hi := w*len(raws)/workers, (w+1)*len(raws)/workers
		wg.Add(1)
		go func() {
			defer wg.Done()
			decodeRange(raws[lo:hi], out[lo:hi], lim, sigs)
		}()
	}
	wg.Wait()
	return out
}

// decodeRange decodes raws into out, verifying the uncached signatures as one batch.
func decodeRange(raws [][]byte, out []Decoded, lim Limits, sigs *SigCache) {
	ps := make([]*parsed, len(raws))
	verified := make([]bool, len(raws))
	var todo []int // positions whose signature must be verified
	for i, raw := range raws {
		p, seen, cerr := parseCached(raw, sigs)
		if cerr != nil {
			out[i].Err = cerr
			continue
		}
		ps[i] = p
		if verified[i] = seen; !verified[i] {
			todo = append(todo, i)
		}
	}
	// What verifies here is remembered like CheckTx's verifications: ProcessProposal
	// decodes a block and FinalizeBlock decodes it again, both on the consensus path.
	batched := false
	if len(todo) >= minBatch {
		if batch := batchOf(ps, todo); verifyBatch(batch, sigs.keyCache()) {
			for _, i := range todo {
				verified[i] = true
			}
			sigs.addAll(batch)
			batched = true
		}
	}
	if !batched {
		for _, i := range todo {
			if verified[i] = sigs.verify(ps[i].env.PubKey, SignBytes(ps[i].env.Body), ps[i].env.Signature); verified[i] {
				sigs.add(ps[i])
			}
		}
	}
	for i, p := range ps {
		switch {
		case p == nil:
		case !verified[i]:
			out[i].Err = p.badSignature()
		default:
			out[i].Tx, out[i].Err = p.finish(lim)
		}
	}
}

// minPreverify is the number of unverified signatures from which Preverify batches them:
// with expanded keys a batch of four costs a signature about 70% of a verification alone.
const minPreverify = 4

// Preverify verifies, as one batch, the signatures of the transactions of raws that sigs
// has not seen, and remembers them when the batch verifies, so that DecodeCached (CheckTx)
// then finds them verified. It decides nothing: a transaction that does not parse, or a
// batch that fails, is left to DecodeCached, which verifies it alone and gives its error.
// Callers with several transactions to check at once (a node's mempool under load) call it
// first.
func Preverify(raws [][]byte, sigs *SigCache) {
	if sigs == nil {
		return
	}
	var es []batchEntry
	for _, raw := range raws {
		p, seen, cerr := parseCached(raw, sigs)
		if cerr != nil || seen {
			continue
		}
		es = append(es, p.entry())
	}
	if len(es) >= minPreverify && verifyBatch(es, &sigs.keys) {
		sigs.addAll(es)
	}
}

func batchOf(ps []*parsed, todo []int) []batchEntry {
	es := make([]batchEntry, len(todo))
	for j, i := range todo {
		es[j] = ps[i].entry()
	}
	return es
}

// entry is p's signature to verify.
func (p *parsed) entry() batchEntry {
	return batchEntry{pub: p.env.PubKey, msg: SignBytes(p.env.Body), sig: p.env.Signature, hash: p.tx.Hash, p: p}
}

// batchEntry is one signature to verify: pub's signature sig of msg, in the transaction p
// whose hash is hash.
type batchEntry struct {
	pub, msg, sig []byte
	hash          [32]byte
	p             *parsed
}

// verifyBatch reports whether every signature of es verifies, against the expanded keys
// of keys (may be nil) where it has them. Its random coefficients come from a hash of the
// batch's transactions, so the check is the same on every run and every node: to slip an
// invalid signature through, a sender would have to find transactions whose own hash
// yields coefficients that cancel its error.
func verifyBatch(es []batchEntry, keys *keyCache) bool {
	bv := voi.NewBatchVerifierWithCapacity(len(es))
	seed := sha256.New()
	seed.Write([]byte("vchain/tx/batch\n"))
	for _, e := range es {
		var ex *voi.ExpandedPublicKey
		if keys != nil {
			ex, _ = keys.expanded(e.pub)
		}
		if ex != nil {
			bv.AddExpandedWithOptions(ex, e.msg, e.sig, verifyOptions)
		} else { // a key seen first, or no point (then the batch fails)
			bv.AddWithOptions(voi.PublicKey(e.pub), e.msg, e.sig, verifyOptions)
		}
		seed.Write(e.hash[:])
	}
	return bv.VerifyBatchOnly(&hashStream{seed: [32]byte(seed.Sum(nil))})
}

// hashStream is a deterministic byte stream: sha256(seed || counter) blocks.
type hashStream struct {
	seed [32]byte
	ctr  uint64
	buf  []byte
}

func (h *hashStream) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		if len(h.buf) == 0 {
			var b [40]byte
			copy(b[:], h.seed[:])
			binary.BigEndian.PutUint64(b[32:], h.ctr)
			h.ctr++
			sum := sha256.Sum256(b[:])
			h.buf = sum[:]
		}
		c := copy(p[n:], h.buf)
		h.buf, n = h.buf[c:], n+c
	}
	return n, nil
}
