// Package crashpoint kills the process at named points inside the app, to test that a node
// cut off there (as by a power failure) restarts to the same state as its peers.
//
// Only binaries built with the build tag "crashpoints" have crash points; in every other
// build Hit is an empty function the compiler removes, and the environment is never read.
// A test binary built with -tags crashpoints is armed by the environment variable
//
//	VCHAIN_CRASH_AT=<point>@<n>
//
// where n is the block height (for the install point: the runtime version being
// installed). When the process reaches that point with that n it writes one line to
// stderr, "CRASHPOINT <point>@<n>: killing the process", and sends itself SIGKILL: no
// deferred function, flush or close runs.
package crashpoint

// EnvVar is the environment variable that arms a crash point in a crashpoints build.
const EnvVar = "VCHAIN_CRASH_AT"

// The crash points.
const (
	// AfterFinalize is reached when FinalizeBlock has computed the block's results and app
	// hash, before they are handed back to CometBFT (so before CometBFT saves them).
	AfterFinalize = "after-finalize"
	// BeforeCommit is reached when CometBFT asks the app to commit: it has saved the block
	// and the FinalizeBlock response, the app has written nothing.
	BeforeCommit = "before-commit"
	// MidCommit is reached when the store starts saving a committed block in the
	// background (state.Store.Commit has returned to CometBFT, which may have saved its
	// own state for the block), before anything is written.
	MidCommit = "mid-commit"
	// TreeSave is reached inside the store's commit, once the first named store's tree has
	// saved the block's version and before the other trees save theirs and the commit
	// record is written: on restart the trees disagree on their latest version until the
	// store rolls the ahead one back to the committed height.
	TreeSave = "tree-save"
	// AfterCommitWrite is reached once the commit record is durably written, before the
	// store's readers switch to the saved trees; CometBFT's own state for the block may
	// or may not be saved yet, so on restart the app is level with it or one block ahead.
	AfterCommitWrite = "after-commit-write"
	// SwitchBlock is reached in the block where a scheduled runtime switch applies, after
	// the switch is recorded in the block's write set and before any transaction runs.
	SwitchBlock = "switch-block"
	// Install is reached while a runtime module is installed, when the module is written
	// and synced to a temporary file and not yet renamed to its final name. Its n is the
	// version.
	Install = "install"
)

// Points lists every crash point.
var Points = []string{AfterFinalize, BeforeCommit, MidCommit, TreeSave, AfterCommitWrite, SwitchBlock, Install}
