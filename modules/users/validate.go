package users

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strings"

	"github.com/go-playground/validator/v10"

	"usersvc/platform/apperr"
)

var usernamePattern = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)

// validate checks the rules in Registration's and Patch's validate tags.
var validate = func() *validator.Validate {
	v := validator.New(validator.WithRequiredStructEnabled())
	v.RegisterTagNameFunc(func(f reflect.StructField) string {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		return name
	})
	if err := v.RegisterValidation("username", func(fl validator.FieldLevel) bool {
		return usernamePattern.MatchString(fl.Field().String())
	}); err != nil {
		panic(err) // only fails for an empty tag name
	}
	return v
}()

// rules says, per field, what a valid value is; used for every violation of that field.
var rules = map[string]string{
	"username":  "must be 3 to 32 characters of a-z, 0-9, '_', '.' or '-' (case-insensitive)",
	"email":     "must be a valid email address of at most 254 characters",
	"full_name": "must be at most 200 characters",
}

// check validates v (a *Registration or *Patch) and returns ErrInvalid naming the first bad
// field, prefixed with path (e.g. "users[3]") when given. The rules see the email in its normal
// form (what would be stored: canonicalEmail), so its length is the stored one's; an email
// that has none is refused saying why (a zero-width space, a mix of scripts, …).
func check(v any, path string) error {
	v, emailErr := withNormalEmail(v)
	err := validate.Struct(v)
	var fieldErrs validator.ValidationErrors
	if err != nil && !errors.As(err, &fieldErrs) {
		return fmt.Errorf("users: validate: %w", err)
	}
	prefix := ""
	if path != "" {
		prefix = path + "."
	}
	// Fields in order: username, email, full_name.
	if emailErr != nil && (len(fieldErrs) == 0 || fieldErrs[0].Field() != "username") {
		return apperr.Invalid("%semail %v", prefix, emailErr)
	}
	if len(fieldErrs) == 0 {
		return nil
	}
	return apperr.Invalid("%s%s %s", prefix, fieldErrs[0].Field(), rules[fieldErrs[0].Field()])
}

// withNormalEmail is v with its email in normal form (a copy: v is left as it is), or v and
// why its email has none. An empty email is left to the rules.
func withNormalEmail(v any) (any, error) {
	switch in := v.(type) {
	case *Registration:
		if in.Email == "" {
			return v, nil
		}
		email, err := normalizeEmail(in.Email)
		if err != nil {
			return v, err
		}
		out := *in
		out.Email = email
		return &out, nil
	case *Patch:
		if in.Email == nil || *in.Email == "" {
			return v, nil
		}
		email, err := normalizeEmail(*in.Email)
		if err != nil {
			return v, err
		}
		out := *in
		out.Email = &email
		return &out, nil
	}
	return v, nil
}
