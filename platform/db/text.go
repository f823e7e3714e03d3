package db

import "unicode/utf8"

// ASCIILower lowercases A-Z only, exactly as PostgreSQL's lower() does under COLLATE "C".
func ASCIILower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// PrefixRange returns [lo, hi) holding exactly the strings that start with prefix under
// byte order: hi is prefix with its last rune incremented.
func PrefixRange(prefix string) (lo, hi string) {
	runes := []rune(prefix)
	for i := len(runes) - 1; i >= 0; i-- {
		next := runes[i] + 1
		for next <= utf8.MaxRune && !utf8.ValidRune(next) {
			next++ // skip the surrogate range
		}
		if next <= utf8.MaxRune {
			return prefix, string(runes[:i]) + string(next)
		}
	}
	return prefix, prefix // only a prefix of nothing but U+10FFFF gets here; it matches nothing
}
