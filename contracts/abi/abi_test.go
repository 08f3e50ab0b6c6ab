package abi

import (
	"bytes"
	"errors"
	"testing"
)

func TestRequestRoundTrip(t *testing.T) {
	for _, r := range []Request{
		{},
		{Contract: "kv", Method: "set", Args: []byte(`{"key":"a","value":"1"}`)},
		{Contract: "x", Method: "y", Args: bytes.Repeat([]byte{0}, 1000)},
	} {
		got, err := DecodeRequest(EncodeRequest(r))
		if err != nil || got.Contract != r.Contract || got.Method != r.Method || !bytes.Equal(got.Args, r.Args) {
			t.Fatalf("%+v -> %+v %v", r, got, err)
		}
	}
}

func TestMalformed(t *testing.T) {
	good := EncodeRequest(Request{Contract: "kv", Method: "set", Args: []byte("{}")})
	for name, b := range map[string][]byte{
		"empty":     nil,
		"truncated": good[:len(good)-1],
		"trailing":  append(append([]byte{}, good...), 0),
		"huge len":  {0xff, 0xff, 0xff, 0xff, 0x0f},
	} {
		if _, err := DecodeRequest(b); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v, want ErrMalformed", name, err)
		}
	}
	if _, err := DecodeEvent([]byte{1, 'x', 0xff, 0xff, 0x03}); !errors.Is(err, ErrMalformed) {
		t.Errorf("event with an impossible attribute count: %v", err)
	}
	if _, err := DecodeResponse([]byte{7}); !errors.Is(err, ErrMalformed) {
		t.Errorf("unknown status byte: %v", err)
	}
}

func TestEventAndResponse(t *testing.T) {
	e := Event{Type: "transfer", Attrs: []Attr{{"from", "A"}, {"to", "B"}, {"amount", "5"}}}
	got, err := DecodeEvent(EncodeEvent(e))
	if err != nil || got.Type != e.Type || len(got.Attrs) != 3 || got.Attrs[2] != e.Attrs[2] {
		t.Fatalf("%+v %v", got, err)
	}
	if r, _ := DecodeResponse(EncodeResponse(Response{Data: []byte("ok")})); string(r.Data) != "ok" || r.Err != "" {
		t.Fatalf("ok response: %+v", r)
	}
	if r, _ := DecodeResponse(EncodeResponse(Response{Err: "bad"})); r.Err != "bad" {
		t.Fatalf("error response: %+v", r)
	}
	if p, n := UnpackPtrLen(PackPtrLen(0xdeadbeef, 42)); p != 0xdeadbeef || n != 42 {
		t.Fatalf("pack: %x %d", p, n)
	}
}

func FuzzDecodeRequest(f *testing.F) {
	f.Add(EncodeRequest(Request{Contract: "kv", Method: "set", Args: []byte("{}")}))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := DecodeRequest(b)
		if err == nil && !bytes.Equal(EncodeRequest(r), b) {
			t.Fatalf("decoded %x but it re-encodes differently", b)
		}
	})
}
