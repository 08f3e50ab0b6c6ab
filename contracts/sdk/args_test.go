package sdk

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

type flatArgs struct {
	Key    string `json:"key"`
	Value  string `json:"value,omitempty"`
	Amount uint64 `json:"amount"`
	Delta  int32  `json:"delta"`
	Small  uint8  `json:"small"`
	Ok     bool   `json:"ok"`
	Plain  string
	skip   string // unexported: encoding/json ignores it
	Hidden string `json:"-"`
}

type stringOpt struct {
	N uint64 `json:"n,string"`
}

type upper string

func (u *upper) UnmarshalJSON(b []byte) error { *u = upper(strings.ToUpper(string(b))); return nil }

type custom struct {
	U upper `json:"u"`
}

type embedded struct {
	flatArgs
	X string `json:"x"`
}

type folded struct {
	A string `json:"name"`
	B string `json:"Name"`
}

type withSlice struct {
	S []string `json:"s"`
}

// TestDecodeFlat pins which documents take the short path: a document the short path
// decodes must be one encoding/json decodes to the same value, and every other document
// must be left to encoding/json.
func TestDecodeFlat(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		into func() any
		flat bool
	}{
		{"kv set", `{"key":"k1","value":"v"}`, func() any { return &flatArgs{} }, true},
		{"spaces", " {\t\"key\" :\n\"k\" ,\r\"amount\": 7 } ", func() any { return &flatArgs{} }, true},
		{"empty object", `{}`, func() any { return &flatArgs{} }, true},
		{"all kinds", `{"key":"a","amount":18446744073709551615,"delta":-2147483648,"small":255,"ok":true,"Plain":"p"}`, func() any { return &flatArgs{} }, true},
		{"false", `{"ok":false}`, func() any { return &flatArgs{Ok: true} }, true},
		{"long ascii", `{"key":"` + strings.Repeat("abcdefgh", 9) + `x"}`, func() any { return &flatArgs{} }, true},
		{"quote after eight", `{"key":"abcdefgh"}`, func() any { return &flatArgs{} }, true},
		{"del is plain", "{\"key\":\"a\x7fb\"}", func() any { return &flatArgs{} }, true},

		{"escape", `{"key":"a\"b"}`, func() any { return &flatArgs{} }, false},
		{"escape after eight", `{"key":"abcdefghij\n"}`, func() any { return &flatArgs{} }, false},
		{"escape within eight", `{"key":"ab\ncdefghijklmnop"}`, func() any { return &flatArgs{} }, false},
		{"control within eight", "{\"key\":\"ab\x01cdefghijklmnop\"}", func() any { return &flatArgs{} }, false},
		{"unicode within eight", `{"key":"abécdefghijklmnop"}`, func() any { return &flatArgs{} }, false},
		{"unicode", `{"key":"é"}`, func() any { return &flatArgs{} }, false},
		{"invalid utf8", "{\"key\":\"\xff\"}", func() any { return &flatArgs{} }, false},
		{"control", "{\"key\":\"a\tb\"}", func() any { return &flatArgs{} }, false},
		{"case folded key", `{"KEY":"k"}`, func() any { return &flatArgs{} }, false},
		{"unknown key", `{"other":"k"}`, func() any { return &flatArgs{} }, false},
		{"ignored field", `{"Hidden":"h"}`, func() any { return &flatArgs{} }, false},
		{"duplicate", `{"key":"a","key":"b"}`, func() any { return &flatArgs{} }, false},
		{"negative unsigned", `{"amount":-1}`, func() any { return &flatArgs{} }, false},
		{"overflow", `{"amount":18446744073709551616}`, func() any { return &flatArgs{} }, false},
		{"overflow int32", `{"delta":2147483648}`, func() any { return &flatArgs{} }, false},
		{"overflow uint8", `{"small":256}`, func() any { return &flatArgs{} }, false},
		{"leading zero", `{"amount":01}`, func() any { return &flatArgs{} }, false},
		{"fraction", `{"amount":1.0}`, func() any { return &flatArgs{} }, false},
		{"exponent", `{"amount":1e3}`, func() any { return &flatArgs{} }, false},
		{"string for number", `{"amount":"1"}`, func() any { return &flatArgs{} }, false},
		{"null", `{"key":null}`, func() any { return &flatArgs{} }, false},
		{"trailing comma", `{"key":"a",}`, func() any { return &flatArgs{} }, false},
		{"trailing data", `{"key":"a"}x`, func() any { return &flatArgs{} }, false},
		{"two objects", `{}{}`, func() any { return &flatArgs{} }, false},
		{"array", `[]`, func() any { return &flatArgs{} }, false},
		{"unterminated", `{"key":"a`, func() any { return &flatArgs{} }, false},
		{"truex", `{"ok":truex}`, func() any { return &flatArgs{} }, false},
		{",string option", `{"n":"5"}`, func() any { return &stringOpt{} }, false},
		{"custom unmarshaler", `{"u":"a"}`, func() any { return &custom{} }, false},
		{"embedded struct", `{"x":"a"}`, func() any { return &embedded{} }, false},
		{"names equal but for case", `{"name":"a"}`, func() any { return &folded{} }, false},
		{"slice field", `{"s":["a"]}`, func() any { return &withSlice{} }, false},
		{"not a pointer", `{"key":"a"}`, func() any { return flatArgs{} }, false},
		{"map", `{"key":"a"}`, func() any { return &map[string]string{} }, false},
		{"nil pointer", `{"key":"a"}`, func() any { return (*flatArgs)(nil) }, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.into()
			flat := decodeFlat([]byte(tc.doc), got)
			if flat != tc.flat {
				t.Fatalf("decodeFlat took the short path: %v, want %v", flat, tc.flat)
			}
			if !flat {
				if !reflect.DeepEqual(got, tc.into()) {
					t.Fatalf("decodeFlat declined but changed the value: %+v", got)
				}
				return
			}
			want := tc.into()
			if err := json.Unmarshal([]byte(tc.doc), want); err != nil {
				t.Fatalf("decodeFlat accepted a document encoding/json refuses: %v", err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("decodeFlat gave %+v, encoding/json %+v", got, want)
			}
		})
	}
}

// TestParseArgsFallsBack checks that what the short path declines still decodes, and
// fails, as encoding/json decides.
func TestParseArgsFallsBack(t *testing.T) {
	var a flatArgs
	if err := ParseArgs([]byte(`{"KEY":"k\u00e9","Amount":2}`), &a); err != nil || a.Key != "ké" || a.Amount != 2 {
		t.Fatalf("got %+v, %v", a, err)
	}
	if err := ParseArgs([]byte(`{"amount":-1}`), &a); err == nil || !strings.HasPrefix(err.Error(), "arguments: json: cannot unmarshal") {
		t.Fatalf("negative amount: %v", err)
	}
	var b flatArgs
	if err := ParseArgs(nil, &b); err != nil || b != (flatArgs{}) {
		t.Fatalf("empty arguments: %+v, %v", b, err)
	}
}

// FuzzDecodeFlat checks the short path against encoding/json on any document: when it
// decodes, encoding/json must accept the document and produce the same value.
func FuzzDecodeFlat(f *testing.F) {
	for _, s := range []string{`{"key":"k","value":"v"}`, `{"amount":1,"ok":true}`, `{"delta":-5,"small":3}`, `{}`, ` { "Plain" : "x" } `, `{"key":"abcdefghijklmnop"}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, doc string) {
		var got, want flatArgs
		if !decodeFlat([]byte(doc), &got) {
			if got != (flatArgs{}) {
				t.Fatalf("declined %q but changed the value: %+v", doc, got)
			}
			return
		}
		if err := json.Unmarshal([]byte(doc), &want); err != nil {
			t.Fatalf("accepted %q, which encoding/json refuses: %v", doc, err)
		}
		if got != want {
			t.Fatalf("%q: decodeFlat %+v, encoding/json %+v", doc, got, want)
		}
	})
}

type result struct {
	Address string `json:"address"`
	Balance uint64 `json:"balance"`
	Delta   int16  `json:"delta,omitempty"`
	Note    string `json:"note,omitempty"`
	Ok      bool   `json:"ok,omitzero"`
	Raw     int8
	hidden  int // unexported: encoding/json ignores it
}

type textual struct{ N int }

func (textual) MarshalText() ([]byte, error) { return []byte("t"), nil }

type withTextual struct {
	T textual `json:"t"`
}

type selfMarshal struct {
	A string `json:"a"`
}

func (selfMarshal) MarshalJSON() ([]byte, error) { return []byte(`"custom"`), nil }

// TestEncodeFlat pins which values take the short path of JSON: each gives exactly the
// bytes json.Marshal gives, and every other value is left to json.Marshal.
func TestEncodeFlat(t *testing.T) {
	tests := []struct {
		name string
		v    any
		flat bool
	}{
		{"transfer result", result{Address: "AB", Balance: 7}, true},
		{"all set", result{Address: "x y", Balance: 1<<64 - 1, Delta: -32768, Note: "n", Ok: true, Raw: -128}, true},
		{"zero", result{}, true},
		{"html", result{Address: "<a>"}, false},
		{"ampersand", result{Note: "a&b"}, false},
		{"long plain", result{Address: "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcd"}, true},
		{"html within eight", result{Address: "abcdefg<hijklmnop"}, false},
		{"gt within eight", result{Address: "abcd>efghijklmnop"}, false},
		{"ampersand within eight", result{Address: "abcdefghijk&mnopqrstu"}, false},
		{"quote within eight", result{Address: "ab\"defghijklmnop"}, false},
		{"quote", result{Address: `a"b`}, false},
		{"unicode", result{Address: "é"}, false},
		{"control", result{Address: "a\nb"}, false},
		{"pointer", &result{}, false},
		{"map", map[string]string{"a": "b"}, false},
		{"nil", nil, false},
		{"text marshaler field", withTextual{}, false},
		{"json marshaler", selfMarshal{A: "a"}, false},
		{"flat args too", flatArgs{Key: "k", Amount: 3, Delta: -1, Plain: "p"}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, flat := encodeFlat(tc.v)
			if flat != tc.flat {
				t.Fatalf("encodeFlat took the short path: %v, want %v", flat, tc.flat)
			}
			want, err := json.Marshal(tc.v)
			if err != nil {
				t.Fatal(err)
			}
			if flat && string(got) != string(want) {
				t.Fatalf("encodeFlat gave %s, json.Marshal %s", got, want)
			}
			if viaJSON, err := JSON(tc.v); err != nil || string(viaJSON) != string(want) {
				t.Fatalf("JSON gave %s, %v; json.Marshal %s", viaJSON, err, want)
			}
		})
	}
}

// FuzzEncodeFlat checks the short path of JSON against json.Marshal on any field values.
func FuzzEncodeFlat(f *testing.F) {
	f.Add("AB", uint64(1), int16(0), "", false, int8(0))
	f.Add("a<b", uint64(0), int16(-5), "x", true, int8(-1))
	f.Fuzz(func(t *testing.T, addr string, bal uint64, delta int16, note string, ok bool, raw int8) {
		v := result{Address: addr, Balance: bal, Delta: delta, Note: note, Ok: ok, Raw: raw}
		want, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		if got, flat := encodeFlat(v); flat && string(got) != string(want) {
			t.Fatalf("%+v: encodeFlat %s, json.Marshal %s", v, got, want)
		}
	})
}
