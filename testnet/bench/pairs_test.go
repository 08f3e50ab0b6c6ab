package main

import "testing"

func TestMedianAndSpread(t *testing.T) {
	tests := []struct {
		xs          []float64
		med, lo, hi float64
	}{
		{nil, 0, 0, 0},
		{[]float64{0.7}, 0.7, 0.7, 0.7},
		{[]float64{0.9, 0.5, 0.7}, 0.7, 0.5, 0.9},
		{[]float64{1, 0.4, 0.8, 0.6}, 0.7, 0.4, 1},
	}
	for _, tc := range tests {
		if got := medianOf(tc.xs); got != tc.med {
			t.Errorf("medianOf(%v) = %v, want %v", tc.xs, got, tc.med)
		}
		if lo, hi := spread(tc.xs); lo != tc.lo || hi != tc.hi {
			t.Errorf("spread(%v) = %v-%v, want %v-%v", tc.xs, lo, hi, tc.lo, tc.hi)
		}
	}
}
