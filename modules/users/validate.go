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

// check validates v (a Registration or Patch) and returns ErrInvalid naming the first bad
// field, prefixed with path (e.g. "users[3]") when given.
func check(v any, path string) error {
	err := validate.Struct(v)
	var fieldErrs validator.ValidationErrors
	if !errors.As(err, &fieldErrs) || len(fieldErrs) == 0 {
		if err != nil {
			return fmt.Errorf("users: validate: %w", err)
		}
		return nil
	}
	field := fieldErrs[0].Field()
	if path != "" {
		field = path + "." + field
	}
	return apperr.Invalid("%s %s", field, rules[fieldErrs[0].Field()])
}
