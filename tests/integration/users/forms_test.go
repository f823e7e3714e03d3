package users_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Issue 10, finding 7: {uuid}, urn:uuid:…, 32 hex digits and upper case were all accepted,
// giving one user many URLs; only the canonical form (the one the API writes) is an id.
func TestOnlyCanonicalUUIDsAreIDs(t *testing.T) {
	u := register(t, "uuidform")
	require.Equal(t, http.StatusOK, srv.Do(t, http.MethodGet, "/api/v1/users/"+u.ID, nil).Status)
	for name, form := range map[string]string{
		"braces":     "{" + u.ID + "}",
		"urn":        "urn:uuid:" + u.ID,
		"32 hex":     strings.ReplaceAll(u.ID, "-", ""),
		"upper case": strings.ToUpper(u.ID),
	} {
		t.Run(name, func(t *testing.T) {
			unchanged(t, func() {
				for _, path := range []string{"/api/v1/users/" + form, "/api/v1/users/" + form + "/events"} {
					requireProblem(t, srv.Do(t, http.MethodGet, path, nil), http.StatusBadRequest, "is not a UUID in canonical form")
				}
				requireProblem(t, srv.Do(t, http.MethodDelete, "/api/v1/users/"+form, nil, "If-Match", `"1"`),
					http.StatusBadRequest, "is not a UUID in canonical form")
			})
		})
	}
}

// Issue 10, finding 5: HEAD on the API's GET routes was 405; RFC 9110 wants HEAD wherever
// GET is served, with GET's status and headers and no body.
func TestHeadIsServedWhereverGetIs(t *testing.T) {
	u := register(t, "head")
	for _, path := range []string{"/api/v1/users/" + u.ID, "/api/v1/users", "/api/v1/users/" + u.ID + "/events", "/api/v1/users/stats"} {
		get := srv.Do(t, http.MethodGet, path, nil)
		head := srv.Do(t, http.MethodHead, path, nil)
		require.Equal(t, http.StatusOK, get.Status, "GET %s: %s", path, get.Body)
		assert.Equal(t, get.Status, head.Status, "HEAD %s", path)
		assert.Empty(t, head.Body, "HEAD %s has no body", path)
		assert.Equal(t, get.Header.Get("Content-Type"), head.Header.Get("Content-Type"), "HEAD %s", path)
		assert.Equal(t, get.Header.Get("ETag"), head.Header.Get("ETag"), "HEAD %s", path)
	}
	assert.Equal(t, http.StatusNotModified, srv.Do(t, http.MethodHead, "/api/v1/users/"+u.ID, nil, "If-None-Match", `"1"`).Status)

	missing := srv.Do(t, http.MethodHead, "/api/v1/users/0192d3c4-5e6f-7a8b-9c0d-1e2f3a4b5c6d", nil)
	assert.Equal(t, http.StatusNotFound, missing.Status)
	assert.Empty(t, missing.Body)
	assert.Equal(t, "application/problem+json", missing.Header.Get("Content-Type"))

	wrong := srv.Do(t, http.MethodHead, "/api/v1/users/"+u.ID+"/restore", nil)
	assert.Equal(t, http.StatusMethodNotAllowed, wrong.Status, "a POST-only route still refuses HEAD")
	assert.Contains(t, wrong.Header.Get("Allow"), http.MethodPost)
}
