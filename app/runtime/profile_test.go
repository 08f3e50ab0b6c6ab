package runtime_test

import (
	"github.com/vchain/vchain/app/profile"
)

// profile1 is the execution profile the runtime compiles modules with.
func profile1() profile.Profile {
	p, err := profile.Get(1)
	if err != nil {
		panic(err)
	}
	return p
}
