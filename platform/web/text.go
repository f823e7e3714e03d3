package web

import (
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"usersvc/platform/apperr"
)

// CheckText rejects text PostgreSQL cannot store in a text column: invalid UTF-8 and NUL.
// Checked at the edge, they are a 400 naming the field instead of a 500 from the database.
func CheckText(field, s string) error {
	if !utf8.ValidString(s) {
		return apperr.Invalid("%s is not valid UTF-8", field)
	}
	if strings.IndexByte(s, 0) >= 0 {
		return apperr.Invalid("%s must not contain NUL characters", field)
	}
	return nil
}

// CheckJSONText rejects JSON text that encoding/json would silently rewrite: bytes that are
// not UTF-8 (a raw 0xFF, an overlong or truncated sequence) and \u escapes of unpaired
// UTF-16 surrogates ("\ud800"). encoding/json decodes both as U+FFFD, so without this check
// the stored text differs from what the client sent and the client is told 201.
func CheckJSONText(data []byte, path string) error {
	if !utf8.Valid(data) {
		return apperr.Invalid("%sbody is not valid UTF-8 (at byte %d)", at(path), invalidAt(data))
	}
	if i := loneSurrogate(data); i >= 0 {
		return apperr.Invalid("%sbody has an unpaired UTF-16 surrogate escape %q (at byte %d): send the character itself or a valid pair",
			at(path), data[i:i+6], i)
	}
	return nil
}

// invalidAt is the offset of the first byte of data that does not start valid UTF-8.
func invalidAt(data []byte) int {
	for i := 0; i < len(data); {
		r, size := utf8.DecodeRune(data[i:])
		if r == utf8.RuneError && size <= 1 {
			return i
		}
		i += size
	}
	return len(data)
}

// loneSurrogate returns the offset of the first \uXXXX escape inside a JSON string that is
// a surrogate without its partner, or -1. Malformed JSON is left to the decoder.
func loneSurrogate(data []byte) int {
	inString := false
	for i := 0; i < len(data); i++ {
		switch b := data[i]; {
		case !inString:
			inString = b == '"'
		case b == '"':
			inString = false
		case b != '\\' || i+1 >= len(data):
		case data[i+1] != 'u':
			i++ // a one-character escape such as \" or \\
		default:
			r, ok := hex4(data, i+2)
			if !ok || !utf16.IsSurrogate(r) {
				i++
				continue
			}
			if r >= 0xDC00 { // a low surrogate with no high one before it
				return i
			}
			low, ok := rune(0), false
			if i+11 < len(data) && data[i+6] == '\\' && data[i+7] == 'u' {
				low, ok = hex4(data, i+8)
			}
			if !ok || low < 0xDC00 || low > 0xDFFF {
				return i
			}
			i += 11 // past the pair
		}
	}
	return -1
}

// hex4 decodes the four hex digits at data[i:i+4].
func hex4(data []byte, i int) (rune, bool) {
	if i+4 > len(data) {
		return 0, false
	}
	var r rune
	for _, c := range data[i : i+4] {
		switch {
		case '0' <= c && c <= '9':
			r = r<<4 | rune(c-'0')
		case 'a' <= c && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case 'A' <= c && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}
