package client

import (
	"math"
	"testing"
)

func TestGasWithMargin(t *testing.T) {
	for _, tc := range []struct{ gas, max, want uint64 }{
		{0, 50_000_000, 10_000},
		{466_840, 50_000_000, 570_208},
		{466_843, 50_000_000, 570_211}, // 466,843 * 1.2 = 560,211.6, rounded down
		{41_000_000, 50_000_000, 49_210_000},
		{41_660_000, 50_000_000, 50_000_000}, // capped at max_gas_per_tx
		{50_000_000, 50_000_000, 50_000_000},
		{math.MaxUint64 - 1, math.MaxUint64, math.MaxUint64}, // no overflow
	} {
		if got := GasWithMargin(tc.gas, tc.max); got != tc.want {
			t.Errorf("GasWithMargin(%d, %d) = %d, want %d", tc.gas, tc.max, got, tc.want)
		}
	}
}
