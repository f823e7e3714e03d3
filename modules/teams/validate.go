package teams

import (
	"regexp"

	"usersvc/platform/apperr"
)

// namePattern: 3 to 64 characters of ASCII letters, digits, spaces, '_', '.' and '-',
// beginning and ending with a letter or digit. ASCII, so that "unique case-insensitively"
// means one thing in Go and in PostgreSQL (lower() under COLLATE "C").
var namePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9 _.-]{1,62}[A-Za-z0-9]$`)

// roles are the roles a member can have.
var roles = map[string]bool{"member": true, "maintainer": true}

func checkName(name *string) error {
	if name != nil && !namePattern.MatchString(*name) {
		return apperr.Invalid("name must be 3 to 64 characters of letters, digits, spaces, '_', '.' or '-', " +
			"beginning and ending with a letter or digit")
	}
	return nil
}

func checkDescription(d *string) error {
	if d != nil && len([]rune(*d)) > 500 {
		return apperr.Invalid("description must be at most 500 characters")
	}
	return nil
}

func checkInput(in *Input) error {
	if err := checkName(&in.Name); err != nil {
		return err
	}
	return checkDescription(&in.Description)
}

func checkPatch(p *Patch) error {
	if p.Name == nil && p.Description == nil {
		return apperr.Invalid("nothing to update: give name or description")
	}
	if err := checkName(p.Name); err != nil {
		return err
	}
	return checkDescription(p.Description)
}

func checkRole(role string) error {
	if role != "" && !roles[role] {
		return apperr.Invalid(`role must be "member" or "maintainer", got %q`, role)
	}
	return nil
}
