package users_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func del(t *testing.T, id string) {
	t.Helper()
	resp := srv.Do(t, http.MethodDelete, "/api/v1/users/"+id, nil)
	require.Equal(t, http.StatusNoContent, resp.Status, "%s", resp.Body)
	assert.Empty(t, resp.Body)
}

func TestDeleteHidesUserFromDefaultQueries(t *testing.T) {
	u := register(t, "del")
	del(t, u.ID)

	requireProblem(t, srv.Do(t, http.MethodGet, "/api/v1/users/"+u.ID, nil), http.StatusNotFound, "not found")
	assert.Empty(t, list(t, url.Values{"q": {u.Username}}).Items)
	assert.Empty(t, list(t, url.Values{"username": {u.Username}}).Items)
	assert.Empty(t, list(t, url.Values{"email": {u.Email}}).Items)

	resp := srv.Do(t, http.MethodGet, "/api/v1/users/"+u.ID+"?include_deleted=true", nil)
	require.Equal(t, http.StatusOK, resp.Status)
	var got user
	resp.JSON(t, &got)
	require.NotNil(t, got.DeletedAt)
	assert.Equal(t, 2, got.Version, "deleting is a change of version")
	assert.Equal(t, []string{u.Username}, usernames(list(t, url.Values{"q": {u.Username}, "state": {"deleted"}})))
}

func TestDeleteTwiceOrUnknownIsNotFound(t *testing.T) {
	u := register(t, "deltwice")
	del(t, u.ID)
	unchanged(t, func() {
		requireProblem(t, srv.Do(t, http.MethodDelete, "/api/v1/users/"+u.ID, nil), http.StatusNotFound, "not found")
		requireProblem(t, srv.Do(t, http.MethodDelete, "/api/v1/users/"+uuid.NewString(), nil), http.StatusNotFound, "not found")
		requireProblem(t, srv.Do(t, http.MethodDelete, "/api/v1/users/x", nil), http.StatusBadRequest, "not a UUID")
	})
}

func TestDeletedUsernameAndEmailCanBeRegisteredAgain(t *testing.T) {
	u := register(t, "reuse")
	del(t, u.ID)
	resp := srv.Do(t, http.MethodPost, "/api/v1/users", map[string]string{"username": strings.ToUpper(u.Username), "email": u.Email})
	require.Equal(t, http.StatusCreated, resp.Status, "%s", resp.Body)
	var again user
	resp.JSON(t, &again)
	assert.NotEqual(t, u.ID, again.ID)
	assert.Len(t, list(t, url.Values{"email": {u.Email}, "state": {"all"}}).Items, 2)
}

func TestRestoreBringsUserBack(t *testing.T) {
	u := register(t, "rest")
	del(t, u.ID)
	resp := srv.Do(t, http.MethodPost, "/api/v1/users/"+u.ID+"/restore", nil)
	require.Equal(t, http.StatusOK, resp.Status, "%s", resp.Body)
	var got user
	resp.JSON(t, &got)
	assert.Nil(t, got.DeletedAt)
	assert.Equal(t, 3, got.Version)
	assert.Equal(t, `"3"`, resp.Header.Get("ETag"))
	assert.Equal(t, http.StatusOK, srv.Do(t, http.MethodGet, "/api/v1/users/"+u.ID, nil).Status)
}

func TestRestoreOfLiveOrUnknownUserIsNotFound(t *testing.T) {
	u := register(t, "restlive")
	unchanged(t, func() {
		requireProblem(t, srv.Do(t, http.MethodPost, "/api/v1/users/"+u.ID+"/restore", nil), http.StatusNotFound, "no deleted user")
		requireProblem(t, srv.Do(t, http.MethodPost, "/api/v1/users/"+uuid.NewString()+"/restore", nil), http.StatusNotFound, "no deleted user")
	})
}

func TestRestoreConflictNamesField(t *testing.T) {
	for _, field := range []string{"username", "email"} {
		t.Run(field, func(t *testing.T) {
			u := register(t, "restc")
			del(t, u.ID)
			taker := map[string]string{"username": "taker" + unique(), "email": "taker" + unique() + "@x.io"}
			if field == "username" {
				taker["username"] = strings.ToUpper(u.Username)
			} else {
				taker["email"] = u.Email
			}
			require.Equal(t, http.StatusCreated, srv.Do(t, http.MethodPost, "/api/v1/users", taker).Status)
			unchanged(t, func() {
				requireProblem(t, srv.Do(t, http.MethodPost, "/api/v1/users/"+u.ID+"/restore", nil), http.StatusConflict, field)
			})
			resp := srv.Do(t, http.MethodGet, "/api/v1/users/"+u.ID+"?include_deleted=true", nil)
			var still user
			resp.JSON(t, &still)
			assert.NotNil(t, still.DeletedAt, "a failed restore leaves the user deleted")
		})
	}
}
