package web

import (
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"usersvc/platform/apperr"
)

// Query parses the request's query string and checks that it has only the allowed
// parameters, each at most once, each valid UTF-8 without NUL: a typo such as ?sortby= or a
// stray ?dry_run=true is a 400, not silently ignored, and a malformed query is not read as
// an empty one.
func Query(c echo.Context, allowed ...string) (url.Values, error) {
	values, err := url.ParseQuery(c.Request().URL.RawQuery)
	if err != nil {
		return nil, apperr.Invalid("the query string is malformed: %v", err)
	}
	names := make([]string, 0, len(values))
	for name := range values {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		switch {
		case !contains(allowed, name) && len(allowed) == 0:
			return nil, apperr.Invalid("unknown query parameter %q (this route takes none)", name)
		case !contains(allowed, name):
			return nil, apperr.Invalid("unknown query parameter %q (allowed: %s)", name, strings.Join(allowed, ", "))
		case len(values[name]) > 1:
			return nil, apperr.Invalid("query parameter %q is given more than once", name)
		}
		if err := CheckText(name, values.Get(name)); err != nil {
			return nil, err
		}
	}
	return values, nil
}

// IntParam parses an optional integer parameter within [lo, hi], dflt when absent.
func IntParam(values url.Values, name string, dflt, lo, hi int) (int, error) {
	s := values.Get(name)
	if s == "" {
		return dflt, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < lo || n > hi {
		return 0, apperr.Invalid("%s must be an integer from %d to %d, got %q", name, lo, hi, s)
	}
	return n, nil
}

// BoolParam parses an optional true/false parameter, false when absent.
func BoolParam(values url.Values, name string) (bool, error) {
	switch s := values.Get(name); s {
	case "", "false":
		return false, nil
	case "true":
		return true, nil
	default:
		return false, apperr.Invalid("%s must be true or false, got %q", name, s)
	}
}

// EnumParam returns the parameter if it is one of allowed, dflt when absent.
func EnumParam(values url.Values, name, dflt string, allowed ...string) (string, error) {
	s := values.Get(name)
	if s == "" {
		return dflt, nil
	}
	if !contains(allowed, s) {
		return "", apperr.Invalid("%s must be one of %s, got %q", name, strings.Join(allowed, ", "), s)
	}
	return s, nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
