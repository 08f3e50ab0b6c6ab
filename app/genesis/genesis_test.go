package genesis

import (
	"strings"
	"testing"
)

const sha = "f3ebb22c28da6116dfcc013814291e974db79568bb8b5d3ee5aecd5cb7131048"
const addr = "E58E04E20C306E4C9A127AD0421811A762E9221C"

func TestParse(t *testing.T) {
	a, err := Parse([]byte(`{"admins":["` + strings.ToLower(addr) + `"],"runtime":{"version":1,"code_sha256":"` + strings.ToUpper(sha) + `"}}`))
	if err != nil {
		t.Fatal(err)
	}
	if a.InstallThreshold != DefaultInstallThreshold || a.MaxGasPerTx != DefaultMaxGasPerTx {
		t.Fatalf("defaults not filled: %+v", a)
	}
	if a.Admins[0] != addr || a.Runtime.CodeSHA256 != sha {
		t.Fatalf("not canonicalised: %+v", a)
	}
	for name, raw := range map[string]string{
		"no admins":      `{"runtime":{"version":1,"code_sha256":"` + sha + `"}}`,
		"bad admin":      `{"admins":["xyz"],"runtime":{"version":1,"code_sha256":"` + sha + `"}}`,
		"version 0":      `{"admins":["` + addr + `"],"runtime":{"version":0,"code_sha256":"` + sha + `"}}`,
		"short sha":      `{"admins":["` + addr + `"],"runtime":{"version":1,"code_sha256":"abcd"}}`,
		"threshold 4/3":  `{"admins":["` + addr + `"],"install_threshold":"4/3","runtime":{"version":1,"code_sha256":"` + sha + `"}}`,
		"threshold junk": `{"admins":["` + addr + `"],"install_threshold":"most","runtime":{"version":1,"code_sha256":"` + sha + `"}}`,
		"unknown field":  `{"admins":["` + addr + `"],"runtime":{"version":1,"code_sha256":"` + sha + `"},"typo":1}`,
		"bad contract":   `{"admins":["` + addr + `"],"runtime":{"version":1,"code_sha256":"` + sha + `"},"contract_state":{"KV":{"a":"1"}}}`,
		"empty key":      `{"admins":["` + addr + `"],"runtime":{"version":1,"code_sha256":"` + sha + `"},"contract_state":{"kv":{"":"1"}}}`,
		"long key":       `{"admins":["` + addr + `"],"runtime":{"version":1,"code_sha256":"` + sha + `"},"contract_state":{"kv":{"` + strings.Repeat("k", 257) + `":"1"}}}`,
		"long value":     `{"admins":["` + addr + `"],"runtime":{"version":1,"code_sha256":"` + sha + `"},"contract_state":{"kv":{"a":"` + strings.Repeat("v", 64<<10+1) + `"}}}`,
	} {
		if _, err := Parse([]byte(raw)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestFraction(t *testing.T) {
	for s, ok := range map[string]bool{"2/3": true, "1/1": true, "0/3": false, "3/2": false, "2/0": false, "2": false, "a/b": false} {
		if _, err := ParseFraction(s); (err == nil) != ok {
			t.Errorf("%q: %v", s, err)
		}
	}
}
