package users_test

import (
	"net/http"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestGetUser(t *testing.T) {
	u := register(t, "get")
	resp := srv.Do(t, http.MethodGet, "/api/v1/users/"+u.ID, nil)
	require.Equal(t, http.StatusOK, resp.Status)
	assert.Equal(t, `"1"`, resp.Header.Get("ETag"))
	var got user
	resp.JSON(t, &got)
	assert.Equal(t, u, got)
}

func TestGetUserIfNoneMatchIsNotModified(t *testing.T) {
	u := register(t, "inm")
	resp := srv.Do(t, http.MethodGet, "/api/v1/users/"+u.ID, nil, "If-None-Match", `"1"`)
	assert.Equal(t, http.StatusNotModified, resp.Status)
	assert.Empty(t, resp.Body)
	resp = srv.Do(t, http.MethodGet, "/api/v1/users/"+u.ID, nil, "If-None-Match", `"7"`)
	assert.Equal(t, http.StatusOK, resp.Status)
}

func TestGetUnknownUserIsNotFound(t *testing.T) {
	requireProblem(t, srv.Do(t, http.MethodGet, "/api/v1/users/"+uuid.NewString(), nil), http.StatusNotFound, "not found")
}

func TestGetMalformedIDIsBadRequest(t *testing.T) {
	for _, id := range []string{"42", "not-a-uuid", "01936d3c-0000-7000-8000-00000000000g"} {
		requireProblem(t, srv.Do(t, http.MethodGet, "/api/v1/users/"+id, nil), http.StatusBadRequest, "not a UUID")
	}
}

func TestGetRejectsBadQuery(t *testing.T) {
	u := register(t, "getq")
	requireProblem(t, srv.Do(t, http.MethodGet, "/api/v1/users/"+u.ID+"?include_deleted=yes", nil), http.StatusBadRequest, "include_deleted")
	requireProblem(t, srv.Do(t, http.MethodGet, "/api/v1/users/"+u.ID+"?includedeleted=true", nil), http.StatusBadRequest, `unknown query parameter "includedeleted"`)
}
