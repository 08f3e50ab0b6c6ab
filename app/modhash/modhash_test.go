package modhash

import "testing"

func TestParse(t *testing.T) {
	const hexSum = "f3ebb22c28da6116dfcc013814291e974db79568bb8b5d3ee5aecd5cb7131048"
	h, err := Parse(hexSum)
	if err != nil || h.String() != hexSum {
		t.Fatalf("Parse(%s) = %s, %v", hexSum, h, err)
	}
	for _, bad := range []string{"", "f3eb", hexSum + "00", "zz" + hexSum[2:]} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("Parse(%q) accepted", bad)
		}
	}
}
