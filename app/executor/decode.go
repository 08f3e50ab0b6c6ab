package executor

import (
	"runtime"
	"sync"

	"github.com/vchain/vchain/app/codes"
	"github.com/vchain/vchain/app/tx"
)

// decoded is one block transaction after the stateless checks.
type decoded struct {
	tx   *tx.Tx
	cerr *codes.Error
}

// parallelDecodeMin is the block size from which decoding is spread over the cores.
const parallelDecodeMin = 64

// decodeBlock decodes and signature-checks a block's transactions on all cores before any
// executes. Most were verified by CheckTx and cost a cache lookup; the others (a block
// from a proposer whose mempool this node's did not share) need an ed25519 verification,
// which is the largest cost of a block and would otherwise sit on the consensus path one
// after another. Each result is a pure function of the transaction's bytes and the chain
// parameters, so the order in which goroutines finish cannot change anything.
func decodeBlock(txs [][]byte, lim tx.Limits, sigs *tx.SigCache) []decoded {
	out := make([]decoded, len(txs))
	decode := func(i int) { out[i].tx, out[i].cerr = tx.DecodeCached(txs[i], lim, sigs) }
	workers := min(runtime.GOMAXPROCS(0), 8)
	if len(txs) < parallelDecodeMin || workers < 2 {
		for i := range txs {
			decode(i)
		}
		return out
	}
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; i < len(txs); i += workers {
				decode(i)
			}
		}(w)
	}
	wg.Wait()
	return out
}
