package main

import (
	"fmt"
	"sort"
)

// pairedRuns is the throughput part: interleaved saturated runs of each network, then one
// fixed-rate run of each.
type pairedRuns struct {
	kv, vc           []throughput
	rate             float64 // of the fixed-rate runs, tx/s
	kvFixed, vcFixed throughput
}

// ratios are the vchain / kvstore throughput of each pair.
func (p pairedRuns) ratios() []float64 {
	var rs []float64
	for i := range p.kv {
		rs = append(rs, ratio(p.vc[i].r.CommittedTPS, p.kv[i].r.CommittedTPS))
	}
	return rs
}

// median returns the median of f over runs (the mean of the middle two for an even count).
func (pairedRuns) median(f func(throughput) float64, runs []throughput) float64 {
	var xs []float64
	for _, t := range runs {
		xs = append(xs, f(t))
	}
	return medianOf(xs)
}

func medianOf(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// spread returns the lowest and highest of xs.
func spread(xs []float64) (lo, hi float64) {
	if len(xs) == 0 {
		return 0, 0
	}
	lo, hi = xs[0], xs[0]
	for _, x := range xs[1:] {
		lo, hi = min(lo, x), max(hi, x)
	}
	return lo, hi
}

// print writes the part's summary to the console.
func (p pairedRuns) print() {
	rs := p.ratios()
	lo, hi := spread(rs)
	fmt.Printf("throughput vchain / kvstore per pair: %s\n", fmtRatios(rs))
	fmt.Printf("throughput vchain / kvstore: median %.2f (spread %.2f-%.2f over %d pairs)\n", medianOf(rs), lo, hi, len(rs))
	fmt.Printf("at %.0f tx/s: kvstore latency p50 %.0f ms p99 %.0f ms, vchain p50 %.0f ms p99 %.0f ms\n", p.rate,
		p.kvFixed.r.LatencyP50, p.kvFixed.r.LatencyP99, p.vcFixed.r.LatencyP50, p.vcFixed.r.LatencyP99)
}

func fmtRatios(rs []float64) string {
	s := ""
	for i, r := range rs {
		if i > 0 {
			s += ", "
		}
		s += fmt.Sprintf("%.2f", r)
	}
	return s
}
