// Package fault makes one node compute a wrong result on purpose, to test that the rest of
// the network and the test suite notice: the node must stop on an app-hash mismatch while
// the others go on, and the suite's comparison of what every node computed must name it.
//
// Only binaries built with the build tag "faults" have faults; in every other build
// Diverge is an empty function the compiler removes, and the environment is never read.
// A binary built with -tags faults is armed by the environment variable
//
//	VCHAIN_FAULT=diverge@<height>
//
// When that node finalizes the block at that height, it adds one write the other nodes do
// not make (DivergedKey) to the block's write set, before the app hash is computed and the
// set committed: its state and app hash differ from the chain's from then on. It says so
// on stderr in one line, "FAULT diverge@<height>: one write of the block changed".
package fault

import "github.com/vchain/vchain/app/state"

// EnvVar is the environment variable that arms a fault in a faults build.
const EnvVar = "VCHAIN_FAULT"

// Diverged names the only fault: the block's write set gets one more write.
const Diverged = "diverge"

// DivergedKey is the write the diverge fault adds: a key of a contract no runtime has, so
// nothing of the faulty node's other state changes and only its app hash tells.
var DivergedKey = state.ContractKey("fault", []byte("diverged"))
