package web

import (
	"errors"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"usersvc/platform/apperr"
)

// fuzzListParams are the parameters of a list route with search (entity.ParseList's plus
// the users module's).
var fuzzListParams = []string{"limit", "cursor", "state", "sort", "q", "username", "include_deleted"}

// FuzzQuery checks Query against refQuery, a reference from its documented rules, for a list
// route and for a route that takes no parameters; that the order of the parameters changes
// neither the answer nor the error's detail; that what it accepts survives re-encoding; and
// the Int/Bool/EnumParam readers on what it accepts.
func FuzzQuery(f *testing.F) {
	for _, raw := range []string{
		"", "limit=10", "limit=10&limit=10", "limit=1e3", "limit=99999999999999999999", "limit=-1",
		"limit=+5", "limit=010", "limit= 5", "q=%25", "q=_", "q=a%25b_c%5C", "q=%", "q=%zz", "q=%FF",
		"q=%C0%AF", "q=%ED%A0%80", "q=%00", "q=a+b", "Q=x", "sortby=name", "dry_run=true", "q",
		"q=", "=x", "&&", "q=x;sort=name", "q=%E2%82", "state=deleted&sort=-created_at",
		"cursor=abc.def&limit=2", "state=DELETED", "username=\xff", "q=\x00", "include_deleted=TRUE", "include_deleted=true&sort=username", "limit=10&q=a&limit=20",
	} {
		f.Add(raw)
	}
	e := echo.New()
	f.Fuzz(func(t *testing.T, raw string) {
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.URL.RawQuery = raw
		c := e.NewContext(req, httptest.NewRecorder())

		values, err := Query(c, fuzzListParams...)
		want, wantErr := refQuery(raw, fuzzListParams)
		checkQuery(t, raw, values, err, want, wantErr)
		if _, err := Query(c); (err == nil) != (wantErr == "" && len(want) == 0) {
			t.Fatalf("Query(%q) with no parameters allowed: %v", raw, err)
		}

		pairs := strings.Split(raw, "&")
		slices.Reverse(pairs)
		req.URL.RawQuery = strings.Join(pairs, "&")
		reversed, rerr := Query(c, fuzzListParams...)
		if (err == nil) != (rerr == nil) || !maps.EqualFunc(values, reversed, slices.Equal) ||
			wantErr != "malformed" && apperr.Detail(err) != apperr.Detail(rerr) {
			t.Fatalf("Query(%q) = %v, %v but in reverse order %v, %v", raw, values, err, reversed, rerr)
		}
		if err != nil {
			return
		}
		req.URL.RawQuery = values.Encode()
		again, err := Query(c, fuzzListParams...)
		if err != nil || !maps.EqualFunc(values, again, slices.Equal) {
			t.Fatalf("Query(%q) = %v, re-encoded as %q it is %v, %v", raw, values, req.URL.RawQuery, again, err)
		}
		checkParams(t, values)
	})
}

// refQuery is what Query must do: parse the query (a malformed one is an error, not an empty
// query), then refuse names not allowed, a name given twice, and values that are not UTF-8
// or hold NUL. It returns the values or why they are refused.
func refQuery(raw string, allowed []string) (url.Values, string) {
	values, err := url.ParseQuery(raw)
	if err != nil {
		return nil, "malformed"
	}
	for name, vs := range values {
		switch {
		case !slices.Contains(allowed, name):
			return nil, "unknown " + name
		case len(vs) > 1:
			return nil, "repeated " + name
		case !utf8.ValidString(vs[0]) || strings.Contains(vs[0], "\x00"):
			return nil, "bad text in " + name
		}
	}
	return values, ""
}

func checkQuery(t *testing.T, raw string, got url.Values, err error, want url.Values, wantErr string) {
	t.Helper()
	switch {
	case err != nil && !errors.Is(err, apperr.ErrInvalid):
		t.Fatalf("Query(%q): %v is not ErrInvalid", raw, err)
	case err != nil && wantErr == "":
		t.Fatalf("Query(%q) refused %v: %v", raw, want, err)
	case err == nil && wantErr != "":
		t.Fatalf("Query(%q) = %v; want an error (%s)", raw, got, wantErr)
	case err == nil && !maps.EqualFunc(got, want, slices.Equal):
		t.Fatalf("Query(%q) = %v; want %v", raw, got, want)
	}
}

// checkParams reads accepted values as the handlers do and checks each reader's answer
// against its documentation.
func checkParams(t *testing.T, values url.Values) {
	t.Helper()
	s := values.Get("limit")
	n, err := IntParam(values, "limit", 25, 1, 100)
	want, werr := strconv.Atoi(s)
	ok := s == "" || werr == nil && 1 <= want && want <= 100
	if s == "" {
		want = 25
	}
	if ok != (err == nil) || ok && n != want || !ok && !errors.Is(err, apperr.ErrInvalid) {
		t.Fatalf("IntParam(limit=%q) = %d, %v", s, n, err)
	}

	s = values.Get("include_deleted")
	b, err := BoolParam(values, "include_deleted")
	ok = s == "" || s == "true" || s == "false"
	if ok != (err == nil) || b != (s == "true") || !ok && !errors.Is(err, apperr.ErrInvalid) {
		t.Fatalf("BoolParam(include_deleted=%q) = %v, %v", s, b, err)
	}

	sorts := []string{"created_at", "-created_at", "username"}
	s = values.Get("sort")
	sort, err := EnumParam(values, "sort", sorts[0], sorts...)
	ok = s == "" || slices.Contains(sorts, s)
	if s == "" {
		s = sorts[0]
	}
	if ok != (err == nil) || ok && sort != s || !ok && !errors.Is(err, apperr.ErrInvalid) {
		t.Fatalf("EnumParam(sort=%q) = %q, %v", values.Get("sort"), sort, err)
	}
}
