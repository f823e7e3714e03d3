package dbfuzz_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"usersvc/platform/db"
)

// FuzzPrefixRange checks the prefix search (?q=): for a search text q as the query parser lets
// it through (UTF-8 without NUL), the range [lo, hi) that PrefixRange(ASCIILower(q)) gives
// holds exactly the UTF-8 strings that start with the lowered q in byte order (COLLATE "C"),
// so '%', '_' and '\' are plain characters, and hi is valid UTF-8 PostgreSQL accepts as text.
func FuzzPrefixRange(f *testing.F) {
	for _, seed := range [][2]string{
		{"%", "%ada"}, {"_", "x"}, {"a%", "a%b"}, {"a%", "ab"}, {"ada_", "adab"}, {`\`, `\\`},
		{"Ada", "ada lovelace"}, {"É", "é"}, {"\ud7ff", "\ue000"}, {"a\U0010FFFF", "b"},
		{"\U0010FFFF", "\U0010FFFF"}, {"zz", "z{"}, {"~", "\u007f"}, {"\u007f", "\u0080"},
	} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, q, s string) {
		if !utf8.ValidString(q) || strings.IndexByte(q, 0) >= 0 || !utf8.ValidString(s) {
			return // web.Query refuses such a q; no stored text is invalid UTF-8
		}
		prefix := db.ASCIILower(q)
		checkASCIILower(t, q, prefix)
		if strings.Trim(prefix, "\U0010FFFF") == "" {
			return // "" (no search: callers skip it) and all U+10FFFF match nothing, as documented
		}
		lo, hi := db.PrefixRange(prefix)
		if lo != prefix || !utf8.ValidString(hi) || hi <= lo {
			t.Fatalf("PrefixRange(%q) = [%q, %q)", prefix, lo, hi)
		}
		for _, candidate := range []string{s, prefix + s, hi, hi + s, lo[:len(lo)-1] + s} {
			if !utf8.ValidString(candidate) {
				continue
			}
			in := lo <= candidate && candidate < hi
			if in != strings.HasPrefix(candidate, prefix) {
				t.Fatalf("PrefixRange(%q) = [%q, %q): %q in range is %v", prefix, lo, hi, candidate, in)
			}
		}
	})
}

// checkASCIILower: PostgreSQL's lower() under COLLATE "C" changes A-Z only.
func checkASCIILower(t *testing.T, s, lower string) {
	if len(lower) != len(s) {
		t.Fatalf("ASCIILower(%q) = %q: another length", s, lower)
	}
	for i := range len(s) {
		want := s[i]
		if 'A' <= want && want <= 'Z' {
			want += 'a' - 'A'
		}
		if lower[i] != want {
			t.Fatalf("ASCIILower(%q) = %q: byte %d", s, lower, i)
		}
	}
}
