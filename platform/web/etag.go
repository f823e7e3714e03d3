package web

import (
	"strconv"
	"strings"

	"usersvc/platform/apperr"
)

// ETag renders a resource version as a strong entity tag.
func ETag(version int) string { return `"` + strconv.Itoa(version) + `"` }

// IfMatch reads an If-Match header naming one version: the tag ETag renders, `"3"` (or,
// from older clients, `3`), with optional spaces or tabs around it. It returns 0 when the
// header is absent or "*" (any version will do). Any other tag, such as `"03"` or `"+3"`,
// is ErrInvalid: entity tags compare as strings, so it names no version this API issued.
func IfMatch(header string) (int, error) {
	h := strings.Trim(header, " \t")
	if h == "" || h == "*" {
		return 0, nil
	}
	s := h
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		s = s[1 : len(s)-1]
	}
	v, err := strconv.Atoi(s)
	if err != nil || v < 1 || strconv.Itoa(v) != s {
		return 0, apperr.Invalid(`If-Match must be one strong ETag as returned by GET, like "3"; got %s`, header)
	}
	return v, nil
}

// NoneMatch reports whether an If-None-Match header names version (or is "*").
func NoneMatch(header string, version int) bool {
	tag := ETag(version)
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == "*" || t == tag {
			return true
		}
	}
	return false
}
