package profile

import (
	"encoding/hex"
	"errors"
	"reflect"
	"testing"
)

// goldenDigests pins every shipped profile, as go-ethereum's forkid vectors pin its forks.
// A failure here means a shipped profile was edited: add a new profile instead.
var goldenDigests = map[uint32]string{
	1: "00e305b799134b2ebbd28f70beccc032e3da99f48eb029413f2190e8b10ff556",
}

func TestProfileVectors(t *testing.T) {
	for _, id := range Supported() {
		want, shipped := goldenDigests[id]
		if !shipped {
			continue // a test-only profile (build tag vchain_profile2)
		}
		p, err := Get(id)
		if err != nil {
			t.Fatal(err)
		}
		d := p.Digest()
		if got := hex.EncodeToString(d[:]); got != want {
			t.Errorf("profile %d digest %s, pinned %s: a shipped profile must never change", id, got, want)
		}
	}
	for id := range goldenDigests {
		if !Knows(id) {
			t.Errorf("profile %d is pinned but this binary does not carry it", id)
		}
	}
}

func TestSupportedIsContiguous(t *testing.T) {
	ids := Supported()
	for i, id := range ids {
		if id != uint32(i+1) {
			t.Fatalf("supported profiles %v: want 1..%d", ids, len(ids))
		}
	}
	if Latest() != ids[len(ids)-1] {
		t.Fatalf("latest %d, supported %v", Latest(), ids)
	}
}

func TestUnknownProfile(t *testing.T) {
	_, err := Get(Latest() + 1)
	var u *UnknownError
	if !errors.As(err, &u) || u.ID != Latest()+1 {
		t.Fatalf("err %v", err)
	}
}

func TestEncodeCoversEveryField(t *testing.T) {
	base, _ := Get(1)
	mutations := map[string]func(*Profile){
		"ID":              func(p *Profile) { p.ID++ },
		"Default":         func(p *Profile) { p.Instructions.Default++ },
		"Call":            func(p *Profile) { p.Instructions.Call++ },
		"Bulk":            func(p *Profile) { p.Instructions.Bulk++ },
		"MemoryGrow":      func(p *Profile) { p.Instructions.MemoryGrow++ },
		"RefFunc":         func(p *Profile) { p.Instructions.RefFunc++ },
		"BulkBytes":       func(p *Profile) { p.Instructions.BulkBytesPerGas++ },
		"StateGetBase":    func(p *Profile) { p.Host.StateGetBase++ },
		"StateGetByte":    func(p *Profile) { p.Host.StateGetByte++ },
		"StateSetBase":    func(p *Profile) { p.Host.StateSetBase++ },
		"StateSetByte":    func(p *Profile) { p.Host.StateSetByte++ },
		"StateDeleteBase": func(p *Profile) { p.Host.StateDeleteBase++ },
		"EmitEventBase":   func(p *Profile) { p.Host.EmitEventBase++ },
		"EmitEventByte":   func(p *Profile) { p.Host.EmitEventByte++ },
		"CallerBase":      func(p *Profile) { p.Host.CallerBase++ },
		"BlockHeightBase": func(p *Profile) { p.Host.BlockHeightBase++ },
		"MemoryLimit":     func(p *Profile) { p.MemoryLimitPages++ },
		"MaxCallDepth":    func(p *Profile) { p.MaxCallDepth++ },
		"InitGas":         func(p *Profile) { p.InitGas++ },
		"MinTxGas":        func(p *Profile) { p.MinTxGas++ },
		"GrowGas":         func(p *Profile) { p.GrowGas++ },
		"CanonicalNaN":    func(p *Profile) { p.CanonicalNaN = !p.CanonicalNaN },
	}
	if n := leafFields(reflect.TypeOf(base)); n != len(mutations) {
		t.Fatalf("Profile has %d fields, the test mutates %d: a new field must be encoded and tested", n, len(mutations))
	}
	for name, mutate := range mutations {
		p := base
		mutate(&p)
		if p.Digest() == base.Digest() {
			t.Errorf("changing %s does not change the digest", name)
		}
	}
}

func leafFields(t reflect.Type) int {
	if t.Kind() != reflect.Struct {
		return 1
	}
	n := 0
	for i := 0; i < t.NumField(); i++ {
		n += leafFields(t.Field(i).Type)
	}
	return n
}
