package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"usersvc/platform/apperr"
)

// fuzzBody has the field kinds request bodies use: text, optional text, a number, a boolean,
// and raw items decoded one by one (as a batch is), plus fields a client must not reach.
type fuzzBody struct {
	Name    string            `json:"name"`
	Note    *string           `json:"note"`
	Count   int               `json:"count"`
	Admin   bool              `json:"admin"`
	Items   []json.RawMessage `json:"items"`
	Skip    string            `json:"-"`
	Untaged string
}

var fuzzBodyFields = []string{"name", "note", "count", "admin", "items"}

// FuzzDecodeObject checks DecodeObject, and its items decoded one by one with a path as a
// batch is, against refDecode, a reference written from its documented rules: it accepts
// exactly one JSON object of known, unique, non-null members whose text is UTF-8 without
// unpaired surrogate escapes or NUL, decoding it as encoding/json does; everything else is
// ErrInvalid with a detail that starts with the path.
func FuzzDecodeObject(f *testing.F) {
	for _, body := range []string{
		`{}`, `{"name":"ada","note":"n","count":2,"admin":true,"items":[{"name":"b"},{}]}`,
		`{"items":[{"items":[{"items":[{"name":"deep"}]}]}]}`,
		`{"items":[` + strings.Repeat("[", 10001) + strings.Repeat("]", 10001) + `]}`,
		`{"count":` + strings.Repeat("9", 400) + `}`, `{"count":1e400}`, `{"count":99999999999999999999}`,
		`{"count":-0}`, `{"count":1.0}`, `{"count":1e2}`, `{"count":"2"}`, `{"admin":"true"}`,
		`{"name":"a","name":"b"}`, `{"name":"a","n\u0061me":"b"}`, `{"role":"admin"}`, `{"Name":"x"}`,
		`{"Skip":"x"}`, `{"Untaged":"x"}`, `{"note":null}`, `null`, `{"items":[null]}`, `{"items":null}`,
		`{} x`, `{}{}`, "{}\n", `{"name":"a"`, `{"name":}`, ``, `[]`, `"x"`, "\xef\xbb\xbf{}",
		`{"name":"\ud800"}`, `{"name":"\udc00\ud800"}`, `{"name":"\ud83d\ude00"}`, `{"name":"\\ud800"}`,
		`{"\ud800":1}`, `{"name":"\uD800\u0041"}`, "{\"name\":\"\xff\"}", "{\"name\":\"\xc0\xaf\"}",
		"{\"name\":\"\xed\xa0\x80\"}", `{"name":"\u0000"}`, "{\"name\":\"a\x00\"}", `{"note":"\u0000"}`,
		`{"items":[{"name":"\u0000"}]}`, `{"items":[1,"x",{}]}`, `{"name":"%_\\"}`, `{"name":"\ufffd"}`,
	} {
		f.Add([]byte(body))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkDecode(t, data, "", 0)
	})
}

func checkDecode(t *testing.T, data []byte, path string, depth int) {
	var got fuzzBody
	err := DecodeObject(data, &got, path)
	want, why := refDecode(data)
	switch {
	case err != nil && !errors.Is(err, apperr.ErrInvalid):
		t.Fatalf("DecodeObject(%q, %q): %v is not ErrInvalid", data, path, err)
	case err != nil && !strings.HasPrefix(apperr.Detail(err), path):
		t.Fatalf("DecodeObject(%q, %q): detail %q does not name the path", data, path, apperr.Detail(err))
	case err != nil && why == "":
		t.Fatalf("DecodeObject(%q, %q) refused %+v: %v", data, path, want, err)
	case err == nil && why != "":
		t.Fatalf("DecodeObject(%q, %q) = %+v; want an error (%s)", data, path, got, why)
	case err == nil && !reflect.DeepEqual(got, want):
		t.Fatalf("DecodeObject(%q, %q) = %+v; encoding/json decodes %+v", data, path, got, want)
	}
	if err != nil {
		return
	}
	for _, s := range []string{got.Name, deref(got.Note)} {
		if !utf8.ValidString(s) || strings.Contains(s, "\x00") {
			t.Fatalf("DecodeObject(%q, %q) yields %q", data, path, s)
		}
	}
	if depth < 4 {
		for i, item := range got.Items {
			checkDecode(t, item, joinPath(path, fmt.Sprintf("items[%d]", i)), depth+1)
		}
	}
}

// refDecode decodes data as DecodeObject must, or says why it must refuse it.
func refDecode(data []byte) (fuzzBody, string) {
	var body fuzzBody
	switch {
	case !utf8.Valid(data):
		return body, "not UTF-8"
	case !json.Valid(data):
		return body, "not JSON"
	case !bytes.HasPrefix(bytes.TrimLeft(data, " \t\r\n"), []byte("{")):
		return body, "not an object"
	case hasLoneSurrogate(data):
		return body, "unpaired surrogate"
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	_, _ = dec.Token() // {
	var seen []string
	for dec.More() {
		tok, _ := dec.Token()
		name := tok.(string)
		var value json.RawMessage
		_ = dec.Decode(&value)
		switch {
		case !slices.Contains(fuzzBodyFields, name):
			return body, "unknown " + name
		case slices.Contains(seen, name):
			return body, "repeated " + name
		case string(bytes.TrimSpace(value)) == "null":
			return body, "null " + name
		}
		seen = append(seen, name)
	}
	if err := json.Unmarshal(data, &body); err != nil {
		return body, err.Error()
	}
	if strings.Contains(body.Name, "\x00") || strings.Contains(deref(body.Note), "\x00") {
		return body, "NUL"
	}
	return body, ""
}

// hasLoneSurrogate reports whether a string of valid JSON data has a \u escape of a UTF-16
// surrogate that is not a high one directly followed by a low one.
func hasLoneSurrogate(data []byte) bool {
	for i := 0; i < len(data); i++ {
		if data[i] != '"' {
			continue
		}
		high := false // the previous character was a high surrogate escape
		for i++; data[i] != '"'; i++ {
			var unit uint64
			if data[i] == '\\' {
				i++
				if data[i] == 'u' {
					unit, _ = strconv.ParseUint(string(data[i+1:i+5]), 16, 16)
					i += 4
				}
			}
			isHigh, isLow := 0xD800 <= unit && unit < 0xDC00, 0xDC00 <= unit && unit < 0xE000
			if high != isLow {
				return true
			}
			high = isHigh
		}
		if high {
			return true
		}
	}
	return false
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
