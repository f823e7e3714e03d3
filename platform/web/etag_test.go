package web

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"usersvc/platform/apperr"
)

func TestIfMatch(t *testing.T) {
	for header, want := range map[string]int{``: 0, `*`: 0, `"3"`: 3, `3`: 3, ` "12" `: 12} {
		got, err := IfMatch(header)
		require.NoError(t, err, header)
		assert.Equal(t, want, got, header)
	}
	// `"03"` and `"+3"` are tags no GET returned (tags compare as strings): they must not
	// match version 3. Whitespace around the tag is spaces and tabs only (found by FuzzIfMatch).
	for _, header := range []string{`W/"3"`, `"abc"`, `"0"`, `"-1"`, `"3`, `"1", "2"`,
		`"03"`, `"+3"`, `+3`, `"99999999999999999999"`, "\"3\"\u00a0", "\n"} {
		_, err := IfMatch(header)
		assert.ErrorIs(t, err, apperr.ErrInvalid, header)
	}
}

func TestNoneMatch(t *testing.T) {
	assert.True(t, NoneMatch(`"3"`, 3))
	assert.True(t, NoneMatch(`"1", W/"3"`, 3))
	assert.True(t, NoneMatch(`*`, 3))
	assert.False(t, NoneMatch(`"4"`, 3))
	assert.False(t, NoneMatch(``, 3))
}
