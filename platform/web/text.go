package web

import (
	"strings"
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
