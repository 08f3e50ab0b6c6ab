// Command loopmod is a tiny contract-like module that the meter tests build
// for wasip1 to check metering on real Go compiler output.
package main

// spin runs n iterations of integer arithmetic and map updates, so its cost
// grows with n and exercises loops, calls and the Go runtime's map code.
//
//go:wasmexport spin
func spin(n int32) int64 {
	m := make(map[int32]int64)
	var acc int64
	for i := int32(0); i < n; i++ {
		acc = acc*31 + int64(i)
		m[i%64] += acc
	}
	return acc + int64(len(m))
}

func main() {}
