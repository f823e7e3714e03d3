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
// media type, 413 (from the body-limit middleware) for an oversized body.
func ReadJSON(c echo.Context) ([]byte, error) {
	ct := c.Request().Header.Get(echo.HeaderContentType)
	if mt, _, err := mime.ParseMediaType(ct); err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
		return nil, echo.NewHTTPError(http.StatusUnsupportedMediaType, "the body must be JSON: send Content-Type: application/json")
	}
	body, err := io.ReadAll(c.Request().Body)
	if err != nil {
		return nil, err // the body limit's 413, or a broken connection
	}
	return body, nil
}

// DecodeObject decodes one JSON object into dst, a pointer to a struct with json tags. Unlike
// encoding/json's defaults it rejects unknown fields, null values, trailing data and wrong
// types, each as apperr.ErrInvalid with a detail naming the field (prefixed by path, e.g.
// "users[3]").
func DecodeObject(data []byte, dst any, path string) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	var raw map[string]json.RawMessage
	if err := dec.Decode(&raw); err != nil {
		return invalidJSON(path, err)
	}
	if raw == nil {
		return apperr.Invalid("%sexpected a JSON object", at(path))
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return apperr.Invalid("%sunexpected data after the JSON object", at(path))
	}
	fields := jsonFields(dst)
	if err := rejectUnknown(raw, fields, path); err != nil {
		return err
	}
	for name, value := range raw {
		if bytes.Equal(bytes.TrimSpace(value), []byte("null")) {
			return apperr.Invalid("%sfield %q must not be null", at(path), name)
		}
		if err := json.Unmarshal(value, fields[name].Addr().Interface()); err != nil {
			return invalidJSON(joinPath(path, name), err)
		}
	}
	return nil
}

func rejectUnknown(raw map[string]json.RawMessage, fields map[string]reflect.Value, path string) error {
	var unknown []string
	for name := range raw {
		if _, ok := fields[name]; !ok {
			unknown = append(unknown, name)
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	sort.Strings(unknown)
	allowed := make([]string, 0, len(fields))
	for name := range fields {
		allowed = append(allowed, name)
	}
	sort.Strings(allowed)
	return apperr.Invalid("%sunknown field %q (allowed: %s)", at(path), unknown[0], strings.Join(allowed, ", "))
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
