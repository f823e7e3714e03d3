package web

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"usersvc/platform/apperr"
)

type sample struct {
	Name  string  `json:"name"`
	Count int     `json:"count"`
	Note  *string `json:"note"`
	Skip  string  `json:"-"`
}

func TestDecodeObject(t *testing.T) {
	var s sample
	require.NoError(t, DecodeObject([]byte(`{"name":"a","count":2,"note":"n"}`), &s, ""))
	assert.Equal(t, "a", s.Name)
	assert.Equal(t, 2, s.Count)
	require.NotNil(t, s.Note)

	var pair sample
	require.NoError(t, DecodeObject([]byte(`{"name":"\ud83d\ude00 \\ud800"}`), &pair, ""))
	assert.Equal(t, "\U0001F600 \\ud800", pair.Name, "a surrogate pair is one character; an escaped backslash is not an escape")

	var partial sample
	require.NoError(t, DecodeObject([]byte(`{"name":"a"}`), &partial, ""))
	assert.Nil(t, partial.Note, "absent fields stay unset")
}

func TestDecodeObjectRejections(t *testing.T) {
	cases := map[string]struct{ body, path, detail string }{
		"unknown field":         {`{"name":"a","extra":1}`, "", `unknown field "extra" (allowed: count, name, note)`},
		"ignored tag":           {`{"Skip":"x"}`, "", `unknown field "Skip"`},
		"null":                  {`{"note":null}`, "", `field "note" must not be null`},
		"wrong type":            {`{"count":"2"}`, "", "count must be a number"},
		"wrong type nested":     {`{"name":1}`, "users[2]", "users[2].name must be a string"},
		"syntax":                {`{"name":}`, "", "not valid JSON"},
		"truncated":             {`{"name":"a"`, "", "truncated"},
		"empty":                 {``, "", "empty"},
		"not an object":         {`"text"`, "", "expected a JSON object"},
		"null document":         {`null`, "users[0]", "users[0]: expected a JSON object"},
		"trailing":              {`{"name":"a"} x`, "", "unexpected data after"},
		"two objects":           {`{} {}`, "", "unexpected data after"},
		"unknown field in item": {`{"x":1}`, "users[1]", `users[1]: unknown field "x"`},
		// encoding/json would store each of these as U+FFFD (issue 10, finding 3).
		"lone high surrogate":        {`{"name":"a\ud800"}`, "", `unpaired UTF-16 surrogate escape "\\ud800" (at byte 10)`},
		"lone low surrogate":         {`{"name":"\uDC00b"}`, "", `unpaired UTF-16 surrogate escape "\\uDC00"`},
		"high then not low":          {`{"name":"\ud800\u0041"}`, "", "unpaired UTF-16 surrogate"},
		"high then high":             {`{"name":"\ud800\ud800"}`, "", "unpaired UTF-16 surrogate"},
		"surrogate in a key":         {`{"\udfff":1}`, "", "unpaired UTF-16 surrogate"},
		"raw 0xFF":                   {"{\"name\":\"a\xffb\"}", "", "body is not valid UTF-8 (at byte 10)"},
		"overlong slash":             {"{\"name\":\"\xc0\xaf\"}", "", "body is not valid UTF-8 (at byte 9)"},
		"truncated sequence":         {"{\"name\":\"\xe2\x82\"}", "", "not valid UTF-8"},
		"encoded surrogate (CESU)":   {"{\"name\":\"\xed\xa0\x80\"}", "", "not valid UTF-8"},
		"invalid byte in batch item": {"{\"name\":\"\xff\"}", "users[4]", "users[4]: body is not valid UTF-8"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			var s sample
			err := DecodeObject([]byte(tc.body), &s, tc.path)
			require.ErrorIs(t, err, apperr.ErrInvalid)
			assert.Contains(t, apperr.Detail(err), tc.detail)
		})
	}
}
