package db

import "testing"

func TestParseLSN(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want LSN
	}{
		{"0/0", 0}, {"0/16B3748", 0x16B3748}, {"16/B374D848", 0x16_B374D848}, {"FFFFFFFF/FFFFFFFF", LSN(^uint64(0))},
	} {
		got, err := ParseLSN(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("ParseLSN(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
		if err == nil && got.String() != tc.in {
			t.Errorf("LSN(%q).String() = %q", tc.in, got.String())
		}
	}
	for _, bad := range []string{"", "/", "1/", "/1", "1", "x/1", "123456789/0", "1/-1", "1/1/1"} {
		if _, err := ParseLSN(bad); err == nil {
			t.Errorf("ParseLSN(%q) succeeded", bad)
		}
	}
}
