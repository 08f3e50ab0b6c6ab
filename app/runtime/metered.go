package runtime

import (
	"crypto/sha256"
	"fmt"

	"github.com/vchain/vchain/app/profile"
	"github.com/vchain/vchain/app/runtime/internal/meter"
)

// MeteredSHA256 returns the sha256 of wasm as profile p's instrumentation rewrites it: the
// code the engine compiles and runs. Golden tests pin it per profile, so a change to the
// rewrite of a shipped profile cannot pass unnoticed.
func MeteredSHA256(wasm []byte, p profile.Profile) (Hash, error) {
	out, err := meter.Instrument(wasm, meterRules(p))
	if err != nil {
		return Hash{}, fmt.Errorf("meter module under profile %d: %w", p.ID, err)
	}
	return sha256.Sum256(out), nil
}
