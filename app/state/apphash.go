package state

import (
	"crypto/sha256"
	"encoding/binary"
)

// appHashDomain versions the app hash construction: changing it is a consensus change.
const appHashDomain = "vchain/apphash/v1"

// AppHash chains a block's writes onto the previous app hash:
//
//	sha256(domain || prev || height || for each write in key order:
//	       uvarint(len key) key op [uvarint(len value) value])
//
// with op 1 for a set and 0 for a delete. Two nodes agree on the app hash at height H
// exactly when they agree on the app hash at H-1 and on every write of block H, so any
// divergence shows in the very block that caused it and stays visible afterwards.
func AppHash(prev []byte, height int64, writes []Write) []byte {
	h := sha256.New()
	h.Write([]byte(appHashDomain))
	h.Write(prev)
	var buf [binary.MaxVarintLen64]byte
	binary.BigEndian.PutUint64(buf[:8], uint64(height))
	h.Write(buf[:8])
	for _, w := range writes {
		h.Write(buf[:binary.PutUvarint(buf[:], uint64(len(w.Key)))])
		h.Write(w.Key)
		if w.Deleted {
			h.Write([]byte{0})
			continue
		}
		h.Write([]byte{1})
		h.Write(buf[:binary.PutUvarint(buf[:], uint64(len(w.Value)))])
		h.Write(w.Value)
	}
	return h.Sum(nil)
}
