package web

import (
	"errors"
	"strconv"
	"strings"
	"testing"

	"usersvc/platform/apperr"
)

// FuzzIfMatch checks IfMatch against refIfMatch, a reference written from RFC 9110's grammar,
// and against ETag and NoneMatch: a version IfMatch accepts from a quoted tag is exactly the
// tag ETag renders for it.
func FuzzIfMatch(f *testing.F) {
	for _, h := range []string{
		``, `*`, ` * `, `"3"`, `3`, ` "12" `, "\t\"7\"\t", `W/"3"`, `"1", "2"`, `"1","2"`, `*, "1"`,
		`"99999999999999999999"`, `99999999999999999999`, `"9223372036854775807"`, `"0"`, `"-1"`,
		`"+3"`, `+3`, `"03"`, `"3`, `3"`, `""`, `"`, `"abc"`, `" 3"`, "\"3\"\u00a0", "\"3\"\r\n",
		"\x00", "\"\xff\"", `""3""`, `"٣"`,
	} {
		f.Add(h)
	}
	f.Fuzz(func(t *testing.T, header string) {
		got, err := IfMatch(header)
		want, wantOK := refIfMatch(header)
		switch {
		case err != nil && !errors.Is(err, apperr.ErrInvalid):
			t.Fatalf("IfMatch(%q): error %v is not ErrInvalid", header, err)
		case err != nil && got != 0:
			t.Fatalf("IfMatch(%q) = %d with error %v", header, got, err)
		case (err == nil) != wantOK || got != want:
			t.Fatalf("IfMatch(%q) = %d, %v; the reference says %d, ok=%v", header, got, err, want, wantOK)
		}
		tag := strings.Trim(header, " \t")
		if err == nil && got > 0 && strings.HasPrefix(tag, `"`) {
			if ETag(got) != tag || !NoneMatch(header, got) || NoneMatch(header, got+1) {
				t.Fatalf("IfMatch(%q) = %d, but ETag(%d) = %s and NoneMatch disagrees", header, got, got, ETag(got))
			}
		}
	})
}

// FuzzIfMatchETag checks that every version's ETag reads back as that version, with optional
// whitespace around it, and that its weak form and a list holding it are refused.
func FuzzIfMatchETag(f *testing.F) {
	for _, v := range []int{1, 3, 10, 1 << 31, 1<<63 - 1, 0, -1} {
		f.Add(v)
	}
	f.Fuzz(func(t *testing.T, v int) {
		if v < 1 {
			return
		}
		for _, h := range []string{ETag(v), " " + ETag(v) + "\t", strconv.Itoa(v)} {
			if got, err := IfMatch(h); err != nil || got != v {
				t.Fatalf("IfMatch(%q) = %d, %v; want %d", h, got, err, v)
			}
		}
		for _, h := range []string{"W/" + ETag(v), ETag(v) + ", " + ETag(v), `"0` + strconv.Itoa(v) + `"`} {
			if _, err := IfMatch(h); !errors.Is(err, apperr.ErrInvalid) {
				t.Fatalf("IfMatch(%q) = %v; want ErrInvalid", h, err)
			}
		}
	})
}

// refIfMatch is what If-Match may hold for this API: nothing or "*" (0), or one strong
// entity tag as ETag renders it, `"<version>"`, possibly without its quotes (older clients),
// surrounded by optional whitespace (RFC 9110's OWS: spaces and tabs).
func refIfMatch(header string) (int, bool) {
	h := strings.Trim(header, " \t")
	if h == "" || h == "*" {
		return 0, true
	}
	digits := h
	if len(h) >= 2 && h[0] == '"' && h[len(h)-1] == '"' {
		digits = h[1 : len(h)-1]
	}
	if digits == "" || digits[0] < '1' || digits[0] > '9' || len(digits) > 19 {
		return 0, false
	}
	v := 0
	for _, c := range []byte(digits) {
		if c < '0' || c > '9' {
			return 0, false
		}
		if v > (1<<63-1-int(c-'0'))/10 {
			return 0, false // overflows int
		}
		v = v*10 + int(c-'0')
	}
	return v, true
}
