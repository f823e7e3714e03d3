package users_test

import (
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Text PostgreSQL cannot store is refused at the edge as a 400 naming the field, never a 500.
func TestUnstorableTextIsBadRequest(t *testing.T) {
	name := "nul" + unique()
	cases := []struct{ name, method, path, body, detail string }{
		{"NUL in a body field", http.MethodPost, "/api/v1/users", fmt.Sprintf(`{"username":"%s","email":"%s@x.io","full_name":"a\u0000b"}`, name, name), "full_name must not contain NUL"},
		{"NUL in a batch item", http.MethodPost, "/api/v1/users/batch", fmt.Sprintf(`{"users":[{"username":"%s","email":"%s@x.io","full_name":"\u0000"}]}`, name, name), "users[0].full_name must not contain NUL"},
		{"NUL in q", http.MethodGet, "/api/v1/users?q=%00", "", "q must not contain NUL"},
		{"invalid UTF-8 in q", http.MethodGet, "/api/v1/users?q=%FF", "", "q is not valid UTF-8"},
		{"invalid UTF-8 in username", http.MethodGet, "/api/v1/users?username=%C3", "", "username is not valid UTF-8"},
		{"malformed escape", http.MethodGet, "/api/v1/users?q=%zz", "", "query string is malformed"},
		// encoding/json reads these as U+FFFD: they were stored rewritten, with a 201 (issue 10, finding 3).
		{"lone surrogate escape", http.MethodPost, "/api/v1/users", fmt.Sprintf(`{"username":"%s","email":"%s@x.io","full_name":"a\ud800"}`, name, name), `unpaired UTF-16 surrogate escape "\\ud800"`},
		{"raw 0xFF byte", http.MethodPost, "/api/v1/users", fmt.Sprintf("{\"username\":\"%s\",\"email\":\"%s@x.io\",\"full_name\":\"a\xffb\"}", name, name), "body is not valid UTF-8 (at byte"},
		{"overlong UTF-8", http.MethodPost, "/api/v1/users", fmt.Sprintf("{\"username\":\"%s\",\"email\":\"%s@x.io\",\"full_name\":\"\xc0\xaf\"}", name, name), "body is not valid UTF-8"},
		{"lone surrogate in a batch", http.MethodPost, "/api/v1/users/batch", fmt.Sprintf(`{"users":[{"username":"%s","email":"%s@x.io","full_name":"\udc00"}]}`, name, name), "unpaired UTF-16 surrogate"},
		{"raw 0xFF in a patch", http.MethodPatch, "/api/v1/users/" + uuid.NewString(), "{\"full_name\":\"\xff\"}", "body is not valid UTF-8"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var body any
			if tc.body != "" {
				body = tc.body
			}
			unchanged(t, func() {
				requireProblem(t, srv.Do(t, tc.method, tc.path, body), http.StatusBadRequest, tc.detail)
			})
		})
	}
}

// JSON is UTF-8 (RFC 8259): a body declared in another charset is refused, not read as if it
// were UTF-8 (issue 10, finding 3).
func TestOtherCharsetIsUnsupported(t *testing.T) {
	name := "cs" + unique()
	body := fmt.Sprintf("{\"username\":\"%s\",\"email\":\"%s@x.io\",\"full_name\":\"Jos\xe9\"}", name, name)
	unchanged(t, func() {
		resp := srv.Do(t, http.MethodPost, "/api/v1/users", body, "Content-Type", "application/json; charset=iso-8859-1")
		requireProblem(t, resp, http.StatusUnsupportedMediaType, "charset=iso-8859-1 is not supported")
	})
	resp := srv.Do(t, http.MethodPost, "/api/v1/users", strings.Replace(body, "\xe9", "é", 1), "Content-Type", "application/json; charset=UTF-8")
	require.Equal(t, http.StatusCreated, resp.Status, "charset=utf-8 is JSON's own: %s", resp.Body)
}

func TestDuplicateJSONKeysAreBadRequest(t *testing.T) {
	name := "dupkey" + unique()
	unchanged(t, func() {
		resp := srv.Do(t, http.MethodPost, "/api/v1/users", fmt.Sprintf(`{"username":"ab","username":"%s","email":"%s@x.io"}`, name, name))
		requireProblem(t, resp, http.StatusBadRequest, `"username" is given more than once`)
	})
}

// Write routes take no query parameters: a client that believes it sent a condition such as
// ?if_version=7 must not get an unconditional write.
func TestWriteRoutesRejectQueryParameters(t *testing.T) {
	u := register(t, "wq")
	name := "wq" + unique()
	cases := []struct{ method, path, body string }{
		{http.MethodPost, "/api/v1/users?dry_run=true", fmt.Sprintf(`{"username":"%s","email":"%s@x.io"}`, name, name)},
		{http.MethodPost, "/api/v1/users/batch?dry_run=true", fmt.Sprintf(`{"users":[{"username":"%s","email":"%s@x.io"}]}`, name, name)},
		{http.MethodPatch, "/api/v1/users/" + u.ID + "?if_version=7", `{"full_name":"x"}`},
		{http.MethodDelete, "/api/v1/users/" + u.ID + "?if_version=7", ""},
		{http.MethodPost, "/api/v1/users/" + u.ID + "/restore?force=true", ""},
		{http.MethodGet, "/api/v1/users/stats?days=7", ""},
	}
	for _, tc := range cases {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			var body any
			if tc.body != "" {
				body = tc.body
			}
			unchanged(t, func() {
				requireProblem(t, srv.Do(t, tc.method, tc.path, body), http.StatusBadRequest, "unknown query parameter")
			})
		})
	}
}

func TestRoutingErrorsAreProblems(t *testing.T) {
	resp := srv.Do(t, http.MethodPut, "/api/v1/users", `{}`)
	requireProblem(t, resp, http.StatusMethodNotAllowed, "PUT is not allowed")
	assert.Contains(t, resp.Header.Get("Allow"), http.MethodPost)

	requireProblem(t, srv.Do(t, http.MethodGet, "/api/v1/nothing-here", nil), http.StatusNotFound, "no such route: GET /api/v1/nothing-here")
	requireProblem(t, srv.Do(t, http.MethodGet, "/api/v1/nothing-here", nil, "Authorization", ""), http.StatusUnauthorized, "bearer token")

	assert.Equal(t, http.StatusOK, srv.Do(t, http.MethodHead, "/healthz", nil).Status)
	assert.Equal(t, http.StatusOK, srv.Do(t, http.MethodHead, "/readyz", nil).Status)
}

func TestRequestIDIsEchoedWhenSaneAndReplacedOtherwise(t *testing.T) {
	resp := srv.Do(t, http.MethodGet, "/healthz", nil, "X-Request-ID", "trace-42.a:b")
	assert.Equal(t, "trace-42.a:b", resp.Header.Get("X-Request-ID"))

	for _, bad := range []string{"has space", "x\"quote", strings.Repeat("a", 65)} {
		resp := srv.Do(t, http.MethodGet, "/healthz", nil, "X-Request-ID", bad)
		got := resp.Header.Get("X-Request-ID")
		assert.NotEqual(t, bad, got)
		assert.Regexp(t, regexp.MustCompile(`^[A-Za-z0-9]{32}$`), got, "a generated id replaces %q", bad)
	}
}

func TestUnknownUserEverywhereIsNotFound(t *testing.T) {
	id := uuid.NewString()
	unchanged(t, func() {
		for _, r := range []struct{ method, path, body string }{
			{http.MethodGet, "/api/v1/users/" + id, ""},
			{http.MethodPatch, "/api/v1/users/" + id, `{"full_name":"x"}`},
			{http.MethodDelete, "/api/v1/users/" + id, ""},
			{http.MethodPost, "/api/v1/users/" + id + "/restore", ""},
			{http.MethodGet, "/api/v1/users/" + id + "/events", ""},
		} {
			var body any
			if r.body != "" {
				body = r.body
			}
			resp := srv.Do(t, r.method, r.path, body)
			require.Equal(t, http.StatusNotFound, resp.Status, "%s %s: %s", r.method, r.path, resp.Body)
		}
	})
}
