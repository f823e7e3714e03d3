package users

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/idna"
	"golang.org/x/text/cases"
	"golang.org/x/text/secure/precis"
	"golang.org/x/text/unicode/norm"
	"golang.org/x/text/width"
)

// Email addresses are stored normalised and unique by a key (users.email_key); README.md,
// "Email addresses", says what is the same address and what is not. In short:
//
//   - rejected: invalid UTF-8, control, format (zero-width, bidi), whitespace, private-use and
//     unassigned characters anywhere; quotes; a local part that is not a PRECIS identifier
//     (RFC 8265 UsernameCasePreserved: letters, digits, ASCII punctuation; no symbols or
//     compatibility characters such as 𝐚 or ﬁ) or that mixes scripts (Latin with Cyrillic,
//     Greek, …); a domain that is not a valid IDNA domain or has a label mixing scripts;
//   - stored: fullwidth forms folded to their ASCII or ordinary forms, NFC, the local part's
//     case as given, the domain in lowercase A-labels (punycode): bücher.example is stored
//     as xn--bcher-kva.example;
//   - key: the local part case-folded (Unicode full case folding: ß ≡ ss, K ≡ k ≡ K) and
//     passed through confusableFold, "@", the stored domain. Dots and +tags are kept:
//     a.da@, ada@ and ada+x@ are three addresses.
//
// normalizeEmail and emailKey are pure and safe for concurrent use.

// normalizeEmail returns the stored form of an address, or an error whose text completes
// "email …" (e.g. "contains U+200B, …") for a 400.
func normalizeEmail(raw string) (string, error) {
	email, _, err := canonicalEmail(raw)
	return email, err
}

// emailKey returns the uniqueness key of an address: two addresses are the same when their
// keys are equal. Errors as normalizeEmail's.
func emailKey(raw string) (string, error) {
	_, key, err := canonicalEmail(raw)
	return key, err
}

// canonicalEmail returns both the stored form of raw and its key.
func canonicalEmail(raw string) (email, key string, err error) {
	if err := checkRunes(raw); err != nil {
		return "", "", err
	}
	s := raw
	if !isASCII(s) {
		s = norm.NFC.String(width.Fold.String(s))
	}
	at := strings.IndexByte(s, '@')
	if at < 0 || strings.IndexByte(s[at+1:], '@') >= 0 {
		return "", "", errors.New("must hold exactly one @")
	}
	local, err := normalizeLocal(s[:at])
	if err != nil {
		return "", "", err
	}
	domain, err := normalizeDomain(s[at+1:])
	if err != nil {
		return "", "", err
	}
	return local + "@" + domain, localKey(local) + "@" + domain, nil
}

// checkRunes rejects what no address may hold, naming the character and where it is (the
// n-th character of the address as given).
func checkRunes(s string) error {
	n := 0
	for i, r := range s {
		n++
		if r < utf8.RuneSelf {
			if r <= ' ' || r == 0x7f {
				return fmt.Errorf("contains %s at character %d", describeRune(r), n)
			}
			continue
		}
		if r == utf8.RuneError {
			if _, size := utf8.DecodeRuneInString(s[i:]); size == 1 {
				return errors.New("is not valid UTF-8")
			}
		}
		if what := describeRune(r); what != "" {
			return fmt.Errorf("contains %s at character %d", what, n)
		}
	}
	return nil
}

// describeRune says what kind of forbidden character r is, or "" when it is not one.
func describeRune(r rune) string {
	switch {
	case unicode.Is(unicode.Cc, r):
		return fmt.Sprintf("the control character %U", r)
	case unicode.Is(unicode.Cf, r):
		return fmt.Sprintf("%U, an invisible format character (zero-width or bidirectional control)", r)
	case unicode.IsSpace(r) || unicode.In(r, unicode.Z):
		return fmt.Sprintf("whitespace (%U)", r)
	case unicode.Is(unicode.Co, r):
		return fmt.Sprintf("the private-use character %U", r)
	case unicode.Is(unicode.Cs, r):
		return fmt.Sprintf("the surrogate %U", r)
	case !unicode.In(r, unicode.L, unicode.M, unicode.N, unicode.P, unicode.S):
		return fmt.Sprintf("the unassigned code point %U", r)
	}
	return ""
}

// normalizeLocal checks and normalises the part before the @.
func normalizeLocal(local string) (string, error) {
	switch {
	case local == "":
		return "", errors.New("has no local part before the @")
	case strings.ContainsAny(local, `"\`):
		return "", errors.New("has a quoted local part or a backslash, which are not accepted")
	}
	out, err := precis.UsernameCasePreserved.String(local)
	if err != nil {
		return "", localError(local)
	}
	if err := checkScripts(out, "local part"); err != nil {
		return "", err
	}
	return out, nil
}

// localError says why precis refused the local part.
func localError(local string) error {
	allowed := precis.UsernameCasePreserved.Allowed()
	for _, r := range local {
		if !allowed.Contains(r) {
			return fmt.Errorf("contains %U, which is not allowed in the local part "+
				"(letters, digits and ASCII punctuation are; symbols and compatibility forms such as 𝐚 or ﬁ are not)", r)
		}
	}
	return errors.New("has a local part that mixes right-to-left and left-to-right text, or uses a joining character out of context")
}

// domainProfile maps a domain as a lookup would (case, width, UTS #46), checks it as IDNA2008
// with the Bidi rule, hyphen and joiner rules, STD3 ASCII rules and DNS lengths, and gives its
// A-labels (punycode), lowercase.
var domainProfile = idna.New(idna.MapForLookup(), idna.BidiRule(), idna.VerifyDNSLength(true), idna.Transitional(false))

// normalizeDomain checks and normalises the part after the @.
func normalizeDomain(domain string) (string, error) {
	if domain == "" {
		return "", errors.New("has no domain after the @")
	}
	ascii, err := domainProfile.ToASCII(domain)
	if err != nil {
		return "", fmt.Errorf("has an invalid domain (%v)", err)
	}
	if strings.HasSuffix(ascii, ".") { // also U+3002 and other dots IDNA maps to "."
		return "", errors.New("has a domain ending with a dot")
	}
	if strings.Contains(ascii, "xn--") {
		uni, err := domainProfile.ToUnicode(ascii)
		if err != nil {
			return "", fmt.Errorf("has an invalid domain (%v)", err)
		}
		for _, label := range strings.Split(uni, ".") {
			if err := checkScripts(label, "domain label"); err != nil {
				return "", err
			}
		}
	}
	return ascii, nil
}

// checkScripts rejects text whose letters come from scripts that should not mix: a single
// script, or Latin with Han and Japanese kana, or with Han and Bopomofo, or with Han and
// Hangul, is accepted (UTS #39's "highly restrictive" level). Common and inherited
// characters (digits, punctuation, combining marks) go with any script.
func checkScripts(s, part string) error {
	if isASCII(s) {
		return nil // Latin letters, digits, punctuation
	}
	var first string
	seen := map[string]rune{} // script → its first letter in s
	for _, r := range s {
		name := scriptOf(r)
		if name == "" {
			continue
		}
		if _, ok := seen[name]; !ok {
			seen[name] = r
		}
		if first == "" {
			first = name
		}
		if !scriptsMix(seen) {
			return fmt.Errorf("mixes %s (%U) and %s (%U) letters in its %s: look-alike letters from different scripts are not accepted",
				first, seen[first], name, r, part)
		}
	}
	return nil
}

// likelyScripts are tried first, in this order, before all of unicode.Scripts.
var likelyScripts = []string{"Latin", "Common", "Inherited", "Cyrillic", "Greek", "Han", "Hiragana", "Katakana",
	"Hangul", "Arabic", "Hebrew", "Devanagari", "Thai", "Armenian", "Georgian"}

// scriptOf names the script of r, "" for Common and Inherited (and for a rune in none).
func scriptOf(r rune) string {
	if r < utf8.RuneSelf {
		if ('a' <= r && r <= 'z') || ('A' <= r && r <= 'Z') {
			return "Latin"
		}
		return ""
	}
	name := ""
	for _, n := range likelyScripts {
		if unicode.Is(unicode.Scripts[n], r) {
			name = n
			break
		}
	}
	if name == "" {
		for n, t := range unicode.Scripts {
			if unicode.Is(t, r) {
				name = n
				break
			}
		}
	}
	if name == "Common" || name == "Inherited" {
		return ""
	}
	return name
}

// allowedMixes are the sets of scripts that may appear together.
var allowedMixes = []map[string]bool{
	{"Latin": true, "Han": true, "Hiragana": true, "Katakana": true},
	{"Latin": true, "Han": true, "Bopomofo": true},
	{"Latin": true, "Han": true, "Hangul": true},
}

// scriptsMix reports whether the scripts seen may appear together.
func scriptsMix(seen map[string]rune) bool {
	if len(seen) <= 1 {
		return true
	}
	for _, mix := range allowedMixes {
		ok := true
		for s := range seen {
			ok = ok && mix[s]
		}
		if ok {
			return true
		}
	}
	return false
}

// localKey is the key of a normalised local part: full Unicode case folding, then
// confusableFold, in NFC.
func localKey(local string) string {
	if isASCII(local) {
		return strings.ToLower(local)
	}
	folded := norm.NFD.String(cases.Fold().String(local))
	var b strings.Builder
	b.Grow(len(folded))
	prev := rune(0)
	for _, r := range folded {
		if r == '\u0307' && (prev == 'i' || prev == 'j') {
			continue // i/j + combining dot above: the dot is the letter's own (İ folds to i + U+0307)
		}
		if to, ok := confusableFold[r]; ok {
			r = to
		}
		b.WriteRune(r)
		prev = r
	}
	return norm.NFC.String(b.String())
}

// confusableFold maps letters that survive case folding yet look like a Latin letter to that
// letter, in the key only (the stored address keeps them). A small table, not all of UTS
// #39's confusables: the Latin dotless i and j, and the Cyrillic and Greek lowercase letters
// that are drawn like a Latin one. So admın@ collides with admin@, and an all-Cyrillic
// раураl@ with paypal@ (a local part mixing the scripts is refused before).
var confusableFold = map[rune]rune{
	'ı': 'i', 'ȷ': 'j', // Latin dotless i and j
	'а': 'a', 'с': 'c', 'ԁ': 'd', 'е': 'e', 'һ': 'h', 'і': 'i', 'ј': 'j', 'ӏ': 'l', // Cyrillic
	'о': 'o', 'р': 'p', 'ԛ': 'q', 'ѕ': 's', 'ԝ': 'w', 'х': 'x', 'у': 'y',
	'α': 'a', 'ι': 'i', 'ν': 'v', 'ο': 'o', 'ρ': 'p', 'υ': 'u', // Greek
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}
