package users

import (
	"testing"
	"unicode"
	"unicode/utf8"
)

// FuzzNormalizeEmail checks the normaliser's invariants on any input: it never panics; an
// accepted address is valid UTF-8 without control, format or whitespace characters, is its
// own normal form (normalising twice changes nothing), and has the key of the input it came
// from; a refused input has no key either.
func FuzzNormalizeEmail(f *testing.F) {
	for _, tc := range lookAlikes {
		f.Add(tc.first)
		f.Add(tc.second)
	}
	for _, s := range []string{"", "@", "a@b", "Ada.Lovelace+Tag@Example.COM", "ada@exa\x00mple.com", "ada\xff@x.io",
		"\u043f\u0451\u0442\u0440@\u043f\u0440\u0438\u043c\u0435\u0440.\u0440\u0444", "\u05e9\u05dc\u05d5\u05dd@example.com",
		"\uff76\uff9e@example.jp", "adm\u0130n@example.com", "l\u00b7l@example.com", "i\u0307@example.com"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		email, err := normalizeEmail(in)
		key, keyErr := emailKey(in)
		if err != nil {
			if keyErr == nil {
				t.Fatalf("%q: refused (%v) yet has the key %q", in, err, key)
			}
			return
		}
		if keyErr != nil {
			t.Fatalf("%q: accepted as %q yet has no key: %v", in, email, keyErr)
		}
		if !utf8.ValidString(email) {
			t.Fatalf("%q: normal form %q is not valid UTF-8", in, email)
		}
		for _, r := range email {
			if unicode.In(r, unicode.Cc, unicode.Cf, unicode.Z) || unicode.IsSpace(r) {
				t.Fatalf("%q: normal form %q holds %U", in, email, r)
			}
		}
		again, err := normalizeEmail(email)
		if err != nil || again != email {
			t.Fatalf("%q: normal form %q normalises to %q (%v)", in, email, again, err)
		}
		if k, err := emailKey(email); err != nil || k != key {
			t.Fatalf("%q: key %q, but its normal form %q has the key %q (%v)", in, key, email, k, err)
		}
	})
}
