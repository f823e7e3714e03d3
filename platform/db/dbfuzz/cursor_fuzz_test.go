// Package dbfuzz_test holds the fuzz targets of platform/db. They live apart from its other
// tests because those share a TestMain that creates a PostgreSQL database, and a fuzz test
// runs TestMain in every worker process: these need no database.
package dbfuzz_test

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"usersvc/platform/db"
)

var (
	fuzzKey   = []byte("fuzz-cursor-key-0123456789")
	fuzzScope = `["users","created_at","active","q=ada"]`
)

func fuzzCursors(t testing.TB) *db.Cursors {
	c, err := db.NewCursors(fuzzKey)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// key is a cursor's content as the lists write it: a time, an id and a text column.
type key struct {
	At time.Time
	ID uuid.UUID
	S  string
}

func (k key) encode(t *testing.T, c *db.Cursors, scope string) string {
	token, err := c.Encode(scope, k.At, k.ID, k.S)
	if err != nil {
		t.Fatalf("Encode(%q, %v): %v", scope, k, err)
	}
	return token
}

func decode(c *db.Cursors, scope, token string) (key, error) {
	var k key
	err := c.Decode(scope, token, &k.At, &k.ID, &k.S)
	return k, err
}

// FuzzCursorDecode feeds arbitrary tokens to Decode: it never panics, every failure is
// ErrBadCursor, and what it accepts is exactly a token Encode issues for the values it
// decoded (no second spelling of a signed cursor is accepted).
func FuzzCursorDecode(f *testing.F) {
	c := fuzzCursors(f)
	valid, err := c.Encode(fuzzScope, time.Date(2026, 11, 25, 12, 0, 0, 123456000, time.UTC), uuid.Max, "ada")
	if err != nil {
		f.Fatal(err)
	}
	body, sig, _ := strings.Cut(valid, ".")
	for _, token := range []string{
		valid, valid + "\n", body + "\r." + sig, body + "." + sig + "A", body + "." + sig[:len(sig)-1],
		body[:len(body)-1] + "." + sig, body + ".." + sig, body, "." + sig, ".", "", "AAAA.AAAA",
		"!!!." + sig, base64.StdEncoding.EncodeToString([]byte(`[1,2,3]`)) + "." + sig,
		body + "." + sig[:len(sig)-1] + "R", body + "=." + sig, strings.ToUpper(valid), "\xff\xfe.\x00", strings.Repeat("A", 4096) + "." + sig,
	} {
		f.Add(fuzzScope, token)
	}
	f.Fuzz(func(t *testing.T, scope, token string) {
		k, err := decode(c, scope, token)
		if err != nil {
			if !errors.Is(err, db.ErrBadCursor) {
				t.Fatalf("Decode(%q): %v is not ErrBadCursor", token, err)
			}
			return
		}
		if again := k.encode(t, c, scope); again != token {
			t.Fatalf("Decode accepted %q, which Encode never issues: it issues %q for %v", token, again, k)
		}
	})
}

// FuzzCursorRoundTrip encodes a key and checks that it decodes to the same key for its scope
// only, with the same number and types of targets only, and that every change to the token
// (a byte replaced, inserted or removed, the token cut short) is refused.
func FuzzCursorRoundTrip(f *testing.F) {
	c := fuzzCursors(f)
	f.Add(fuzzScope, "ada", int64(1764072000123456000), []byte("0123456789abcdef"), "other", uint8(0), uint16(3), byte('x'))
	f.Add("", "", int64(0), []byte{}, "", uint8(1), uint16(0), byte('\n'))
	f.Add("s", "%_\\", int64(-1), []byte{0xff}, "s\x00", uint8(1), uint16(40), byte('\r'))
	f.Add("s\x00[", "\x00\ud7ff😀", int64(1<<62), []byte{1}, "s", uint8(0), uint16(65535), byte('='))
	f.Add("teams", strings.Repeat("é", 300), int64(42), []byte("x"), "teams ", uint8(2), uint16(7), byte(0))
	f.Add("teams", "x", int64(42), []byte("x"), "teams", uint8(3), uint16(12), byte('.'))
	f.Fuzz(func(t *testing.T, scope, s string, nanos int64, id []byte, otherScope string, op uint8, pos uint16, b byte) {
		want := key{At: time.Unix(0, nanos).UTC(), S: s}
		copy(want.ID[:], id)
		token := want.encode(t, c, scope)

		got, err := decode(c, scope, token)
		switch {
		case err != nil:
			t.Fatalf("Decode(Encode(%v)) = %v", want, err)
		case !got.At.Equal(want.At) || got.ID != want.ID:
			t.Fatalf("Decode(Encode(%v)) = %v", want, got)
		case utf8.ValidString(s) && got.S != s: // JSON stores invalid UTF-8 as U+FFFD
			t.Fatalf("Decode(Encode(%q)) = %q", s, got.S)
		}
		if otherScope != scope {
			if _, err := decode(c, otherScope, token); !errors.Is(err, db.ErrBadCursor) {
				t.Fatalf("a cursor for scope %q decoded for scope %q: %v", scope, otherScope, err)
			}
		}
		var at time.Time
		var uid uuid.UUID
		var str string
		if err := c.Decode(scope, token, &at, &uid); !errors.Is(err, db.ErrBadCursor) {
			t.Fatalf("a cursor of three values decoded into two: %v", err)
		}
		if err := c.Decode(scope, token, &str, &at, &uid); !errors.Is(err, db.ErrBadCursor) {
			t.Fatalf("a cursor decoded into targets of the wrong types: %v", err)
		}
		if changed := mutate(token, op, int(pos), b); changed != token {
			if _, err := decode(c, scope, changed); !errors.Is(err, db.ErrBadCursor) {
				t.Fatalf("changed cursor accepted (op %d at %d): %q instead of %q: %v", op%4, pos, changed, token, err)
			}
		}
	})
}

// mutate changes token once: op 0 replaces the byte at pos with b, 1 inserts b before it,
// 2 removes it, 3 cuts the token there.
func mutate(token string, op uint8, pos int, b byte) string {
	if token == "" {
		return string(b)
	}
	pos %= len(token) + 1
	switch op % 4 {
	case 0:
		if pos == len(token) {
			return token + string(b)
		}
		return token[:pos] + string(b) + token[pos+1:]
	case 1:
		return token[:pos] + string(b) + token[pos:]
	case 2:
		if pos == len(token) {
			pos--
		}
		return token[:pos] + token[pos+1:]
	default:
		return token[:pos]
	}
}
