package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"sort"
	"strings"

	"github.com/labstack/echo/v4"

	"usersvc/platform/apperr"
)

// ReadJSON reads the request body, which must be application/json. Errors: 415 for another
// media type or a charset other than UTF-8 (JSON is UTF-8, RFC 8259), 413 (from the
// body-limit middleware) for an oversized body, 400 when the body cannot be read (the client
// stalled past the read timeout or went away).
func ReadJSON(c echo.Context) ([]byte, error) {
	ct := c.Request().Header.Get(echo.HeaderContentType)
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
		return nil, echo.NewHTTPError(http.StatusUnsupportedMediaType, "the body must be JSON: send Content-Type: application/json")
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		return nil, echo.NewHTTPError(http.StatusUnsupportedMediaType,
			fmt.Sprintf("the body must be UTF-8 JSON: charset=%s is not supported (send charset=utf-8 or none)", cs))
	}
	body, err := io.ReadAll(c.Request().Body)
	var he *echo.HTTPError
	switch {
	case errors.As(err, &he):
		return nil, err // the body limit's 413
	case err != nil:
		return nil, fmt.Errorf("%w: %w", apperr.Invalid("the request body could not be read"), err)
	}
	return body, nil
}

// DecodeObject decodes one JSON object into dst, a pointer to a struct with json tags. Unlike
// encoding/json's defaults it rejects unknown and duplicate fields, null values, trailing
// data, wrong types, text that is not UTF-8 or escapes unpaired surrogates (CheckJSONText),
// and text PostgreSQL cannot store (NUL), each as apperr.ErrInvalid with a detail naming
// the field or byte (prefixed by path, e.g. "users[3]").
func DecodeObject(data []byte, dst any, path string) error {
	if err := CheckJSONText(data, path); err != nil {
		return err
	}
	members, err := objectMembers(data, path)
	if err != nil {
		return err
	}
	fields := jsonFields(dst)
	for _, m := range members {
		if _, ok := fields[m.name]; !ok {
			return apperr.Invalid("%sunknown field %q (allowed: %s)", at(path), m.name, strings.Join(sortedKeys(fields), ", "))
		}
	}
	for _, m := range members {
		if bytes.Equal(m.value, []byte("null")) {
			return apperr.Invalid("%sfield %q must not be null", at(path), m.name)
		}
		field := fields[m.name]
		if err := json.Unmarshal(m.value, field.Addr().Interface()); err != nil {
			return invalidJSON(joinPath(path, m.name), err)
		}
		if err := checkStrings(joinPath(path, m.name), field); err != nil {
			return err
		}
	}
	return nil
}

type member struct {
	name  string
	value json.RawMessage
}

// objectMembers splits one JSON object into its members in order, rejecting duplicate
// names (encoding/json would silently keep the last) and anything after the object.
func objectMembers(data []byte, path string) ([]member, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	tok, err := dec.Token()
	if err != nil {
		return nil, invalidJSON(path, err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, apperr.Invalid("%sexpected a JSON object", at(path))
	}
	var members []member
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, invalidJSON(path, err)
		}
		name, _ := tok.(string) // object keys are always strings
		if seen[name] {
			return nil, apperr.Invalid("%sfield %q is given more than once", at(path), name)
		}
		seen[name] = true
		var value json.RawMessage
		if err := dec.Decode(&value); err != nil {
			return nil, invalidJSON(path, err)
		}
		members = append(members, member{name: name, value: value})
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return nil, invalidJSON(path, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, apperr.Invalid("%sunexpected data after the JSON object", at(path))
	}
	return members, nil
}

// checkStrings applies CheckText to a decoded string or *string field.
func checkStrings(name string, v reflect.Value) error {
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return nil
		}
		v = v.Elem()
	}
	if v.Kind() == reflect.String {
		return CheckText(name, v.String())
	}
	return nil
}

func sortedKeys(fields map[string]reflect.Value) []string {
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// jsonFields maps each json tag name of the struct dst points to onto its field.
func jsonFields(dst any) map[string]reflect.Value {
	v := reflect.ValueOf(dst).Elem()
	fields := map[string]reflect.Value{}
	for i := 0; i < v.NumField(); i++ {
		name, _, _ := strings.Cut(v.Type().Field(i).Tag.Get("json"), ",")
		if name != "" && name != "-" {
			fields[name] = v.Field(i)
		}
	}
	return fields
}

func invalidJSON(path string, err error) error {
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &typeErr):
		if path == "" {
			return apperr.Invalid("expected a JSON object, got %s", typeErr.Value)
		}
		return apperr.Invalid("%s must be %s, got %s", path, typeName(typeErr.Type), typeErr.Value)
	case errors.As(err, &syntaxErr):
		return apperr.Invalid("%sbody is not valid JSON: %v (at byte %d)", at(path), syntaxErr, syntaxErr.Offset)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return apperr.Invalid("%sbody is empty or truncated JSON", at(path))
	default:
		return apperr.Invalid("%sbody is not valid JSON: %v", at(path), err)
	}
}

func typeName(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Map, reflect.Struct:
		return "an object"
	case reflect.Bool:
		return "a boolean"
	default:
		return "a number"
	}
}

func at(path string) string {
	if path == "" {
		return ""
	}
	return path + ": "
}

func joinPath(path, field string) string {
	if path == "" {
		return field
	}
	return fmt.Sprintf("%s.%s", path, field)
}

// DecodeOptionalBody is DecodeBody for a route whose body may be left out: without one, dst
// keeps its values.
func DecodeOptionalBody(c echo.Context, dst any) error {
	if c.Request().ContentLength == 0 {
		_, err := Query(c)
		return err
	}
	return DecodeBody(c, dst)
}

// DecodeBody reads the JSON object body of a route that takes no query parameters into dst,
// with DecodeObject's rules.
func DecodeBody(c echo.Context, dst any) error {
	if _, err := Query(c); err != nil {
		return err
	}
	body, err := ReadJSON(c)
	if err != nil {
		return err
	}
	return DecodeObject(body, dst, "")
}
