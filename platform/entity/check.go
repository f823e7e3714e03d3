package entity

import (
	"regexp"

	"usersvc/platform/apperr"
)

// namePattern: 3 to 64 ASCII letters, digits, spaces, '_', '.' and '-', beginning and ending
// with a letter or digit. ASCII, so that "unique case-insensitively" means one thing in Go
// and in PostgreSQL (lower() under COLLATE "C").
var namePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9 _.-]{1,62}[A-Za-z0-9]$`)

// CheckName is ErrInvalid when the name field is given (not nil) and is not a valid name.
func CheckName(field string, v *string) error {
	if v != nil && !namePattern.MatchString(*v) {
		return apperr.Invalid("%s must be 3 to 64 characters of letters, digits, spaces, '_', '.' or '-', "+
			"beginning and ending with a letter or digit", field)
	}
	return nil
}

// CheckLength is ErrInvalid when the text field is given and longer than limit characters.
func CheckLength(field string, v *string, limit int) error {
	if v != nil && len([]rune(*v)) > limit {
		return apperr.Invalid("%s must be at most %d characters", field, limit)
	}
	return nil
}

// CheckAny is ErrInvalid, listing fields, when a patch gives none of them (every value nil).
func CheckAny(fields string, values ...*string) error {
	for _, v := range values {
		if v != nil {
			return nil
		}
	}
	return apperr.Invalid("nothing to update: give %s", fields)
}
