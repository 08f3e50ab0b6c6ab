package meter

// # Call depth
//
// How deep wasm may recurse must not depend on the machine. Left to wazero,
// it does: the compiler (amd64, arm64) grows its own stack to about 50 MB
// and the depth that fits depends on the frame sizes its code generator
// picks for each architecture, while the interpreter (every other
// architecture) stops at 2000 frames. A recursion could thus return on one
// node and trap on another. The pass therefore counts frames itself, as
// parity's wasm-instrument stack limiter does, with a second injected
// global (mut i32), exported as DepthGlobalExport and initialised to 0.
//
// Only functions that are not leaves count their frame. A leaf is a
// function whose body contains no call, call_indirect, return_call or
// return_call_indirect (dead code included): it adds one frame to the stack
// and never more. An imported function is not counted either (the host's
// functions run on the Go stack and do not call back into the instance).
// A counted function's body is wrapped, L being Rules.MaxCallDepth:
//
//	global.get D; i32.const 1; i32.add; global.set D
//	global.get D; i32.const L; i32.gt_u; if (empty) unreachable end
//	block (result ...)        ;; the function's own result types
//	  original body, each return turned into br to this block
//	end
//	global.get D; i32.const 1; i32.sub; global.set D
//	end
//
// Every way out of the body (its end, return, a branch to the function's
// label) leaves through the wrapper's end and the decrement, and
// return_call* get the decrement right before them (they replace the
// frame). The return that becomes a br costs what a return costs.
//
// What the limit means: D is the number of frames of non-leaf functions in
// progress, wherever they were called from (call, call_indirect, the host);
// the non-leaf frame that would make it L+1 traps at its entry, before its
// body runs, with D left at L+1: the host tells the depth trap from the
// contract's own traps by that value alone. So at most L non-leaf frames
// are in progress, and since only a leaf or a host function can sit on the
// top one, the wasm stack holds at most L+1 frames, the same on every
// machine. A trap leaves D high, but the host discards an instance after
// any trap; after a call that returns, D is back to 0 by construction. The
// counting is free (only original instructions cost gas); the bulk helpers
// are leaves.
//
// Why at entry and not around each call site (as before, and as parity's
// wasm-instrument does): Go's output has about 19,000 call sites but 2,100
// functions, so the count is written 2,100 times instead of 19,000 (smaller
// machine code), and leaves, 5% of the calls testdata/loopmod's spin makes
// (measured with a wazero function listener), are not counted at all.

// Choosing Rules.MaxCallDepth. Profile 1 uses 1000. The Go modules go 28
// frames deep at most (the Go runtime's initialisation in v1's _initialize;
// found by lowering the limit until installing v1 failed at 27, with v1, v2
// and contracts/testmod calls all passing at 28), so a Go contract has more
// than thirty times the room it uses. It is half the 2000 frames at which
// wazero's interpreter (the engine on architectures other than amd64 and
// arm64) stops, so a host function's frame on top cannot reach that
// ceiling. wazero's compiler grows its stack to at least 50 MB: on amd64,
// 1000 frames each keeping 8,000 i64 values live across their call still
// fit, 12,000 do not (TestCallDepthBeforeNativeStack checks 4,000). A
// module with frames that large (the meter allows 50,000 locals per
// function) can still exhaust the native stack first; the runtime reports
// that as out of gas (see app/runtime/session.go).

// depthCode returns the instructions that go before and after a call to
// count its frame in the global depthIdx and trap beyond limit.
func depthCode(depthIdx, limit uint32) (enter, leave []byte) {
	enter = appendU32([]byte{0x23}, depthIdx)        // global.get D
	enter = append(enter, 0x41, 0x01, 0x6a)          // i32.const 1; i32.add
	enter = appendU32(append(enter, 0x24), depthIdx) // global.set D
	enter = appendU32(append(enter, 0x23), depthIdx) // global.get D
	enter = append(enter, 0x41)                      // i32.const limit
	enter = appendS64(enter, int64(limit))
	enter = append(enter,
		0x4b,       // i32.gt_u
		0x04, 0x40, // if (empty)
		0x00, // unreachable
		0x0b, // end
	)
	leave = appendU32([]byte{0x23}, depthIdx) // global.get D
	leave = append(leave, 0x41, 0x01, 0x6b)   // i32.const 1; i32.sub
	leave = appendU32(append(leave, 0x24), depthIdx)
	return enter, leave
}
