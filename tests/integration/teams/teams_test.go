package teams_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"usersvc/tests/apitest"
)

func TestCreateGetUpdateDeleteRestore(t *testing.T) {
	name := "Platform " + apitest.Unique()
	resp := srv.Do(t, http.MethodPost, "/api/v1/teams", map[string]string{"name": name, "description": "keeps the lights on"})
	require.Equal(t, http.StatusCreated, resp.Status, "%s", resp.Body)
	var tm team
	resp.JSON(t, &tm)
	assert.Equal(t, "/api/v1/teams/"+tm.ID, resp.Header.Get("Location"))
	assert.Equal(t, `"1"`, resp.Header.Get("ETag"))
	assert.Equal(t, name, tm.Name)
	assert.Equal(t, 1, tm.Version)

	got := srv.Do(t, http.MethodGet, "/api/v1/teams/"+tm.ID, nil)
	require.Equal(t, http.StatusOK, got.Status)
	assert.Equal(t, http.StatusNotModified, srv.Do(t, http.MethodGet, "/api/v1/teams/"+tm.ID, nil, "If-None-Match", `"1"`).Status)

	stale := srv.Do(t, http.MethodPatch, "/api/v1/teams/"+tm.ID, map[string]string{"description": "x"}, "If-Match", `"7"`)
	apitest.RequireProblem(t, stale, http.StatusPreconditionFailed, "is at version 1")
	upd := srv.Do(t, http.MethodPatch, "/api/v1/teams/"+tm.ID, map[string]string{"description": "runs the platform"}, "If-Match", `"1"`)
	require.Equal(t, http.StatusOK, upd.Status, "%s", upd.Body)
	assert.Equal(t, `"2"`, upd.Header.Get("ETag"))

	require.Equal(t, http.StatusNoContent, srv.Do(t, http.MethodDelete, "/api/v1/teams/"+tm.ID, nil).Status)
	apitest.RequireProblem(t, srv.Do(t, http.MethodGet, "/api/v1/teams/"+tm.ID, nil), http.StatusNotFound, "team "+tm.ID+" not found")
	apitest.RequireProblem(t, srv.Do(t, http.MethodDelete, "/api/v1/teams/"+tm.ID, nil), http.StatusNotFound, tm.ID)
	withDeleted := srv.Do(t, http.MethodGet, "/api/v1/teams/"+tm.ID+"?include_deleted=true", nil)
	require.Equal(t, http.StatusOK, withDeleted.Status)

	restored := srv.Do(t, http.MethodPost, "/api/v1/teams/"+tm.ID+"/restore", nil)
	require.Equal(t, http.StatusOK, restored.Status, "%s", restored.Body)
	assert.Equal(t, `"4"`, restored.Header.Get("ETag"), "update, delete and restore each made a version")

	events := srv.Do(t, http.MethodGet, "/api/v1/teams/"+tm.ID+"/events", nil)
	require.Equal(t, http.StatusOK, events.Status)
	var ev page[struct{ Action string }]
	events.JSON(t, &ev)
	var actions []string
	for _, e := range ev.Items {
		actions = append(actions, e.Action)
	}
	assert.Equal(t, []string{"restored", "deleted", "updated", "created"}, actions)
}

// Names are unique among live teams, whatever their case; a deleted team's name is free, and
// restoring it is a 409 once a live team took the name.
func TestNamesAreUniqueAmongLiveTeams(t *testing.T) {
	name := "Unique " + apitest.Unique()
	first := newTeamNamed(t, name)
	apitest.Unchanged(t, srv, func() {
		dup := srv.Do(t, http.MethodPost, "/api/v1/teams", map[string]string{"name": strings.ToUpper(name)})
		apitest.RequireProblem(t, dup, http.StatusConflict, "name is already taken")
	})
	require.Equal(t, http.StatusNoContent, srv.Do(t, http.MethodDelete, "/api/v1/teams/"+first.ID, nil).Status)
	second := newTeamNamed(t, strings.ToLower(name))
	apitest.Unchanged(t, srv, func() {
		apitest.RequireProblem(t, srv.Do(t, http.MethodPost, "/api/v1/teams/"+first.ID+"/restore", nil),
			http.StatusConflict, "cannot restore: a live team now has this name")
	})
	require.Equal(t, http.StatusNoContent, srv.Do(t, http.MethodDelete, "/api/v1/teams/"+second.ID, nil).Status)
	require.Equal(t, http.StatusOK, srv.Do(t, http.MethodPost, "/api/v1/teams/"+first.ID+"/restore", nil).Status)
}

func newTeamNamed(t *testing.T, name string) team {
	t.Helper()
	resp := srv.Do(t, http.MethodPost, "/api/v1/teams", map[string]string{"name": name})
	require.Equal(t, http.StatusCreated, resp.Status, "%s", resp.Body)
	var tm team
	resp.JSON(t, &tm)
	return tm
}

// Bad input is a 400 naming what is wrong, and stores nothing.
func TestBadInputIs400AndChangesNothing(t *testing.T) {
	tm := newTeam(t, "Input")
	cases := []struct {
		method, path string
		body         any
		want         string
	}{
		{http.MethodPost, "/api/v1/teams", map[string]string{"name": "ab"}, "name must be 3 to 64 characters"},
		{http.MethodPost, "/api/v1/teams", map[string]string{"name": " leading space"}, "beginning and ending"},
		{http.MethodPost, "/api/v1/teams", map[string]string{"name": "Ünïcode"}, "name must be"},
		{http.MethodPost, "/api/v1/teams", map[string]string{"name": strings.Repeat("a", 65)}, "name must be"},
		{http.MethodPost, "/api/v1/teams", map[string]any{"name": "Fine name", "description": strings.Repeat("é", 501)}, "description must be at most 500"},
		{http.MethodPost, "/api/v1/teams", map[string]any{"name": "Fine name", "owner": "me"}, `unknown field "owner"`},
		{http.MethodPatch, "/api/v1/teams/" + tm.ID, map[string]any{}, "nothing to update"},
		{http.MethodPatch, "/api/v1/teams/not-a-uuid", map[string]any{"name": "Fine name"}, `id "not-a-uuid" is not a UUID`},
		{http.MethodGet, "/api/v1/teams?sort=owner", nil, "sort must be one of created_at, -created_at, name"},
		{http.MethodGet, "/api/v1/teams?member=nope", nil, `member "nope" is not a UUID`},
		{http.MethodPut, "/api/v1/teams/" + tm.ID + "/members/" + newUser(t), map[string]string{"role": "owner"}, `role must be "member" or "maintainer"`},
		{http.MethodPut, "/api/v1/teams/" + tm.ID + "/members/nope", nil, `user_id "nope" is not a UUID`},
	}
	for _, c := range cases {
		apitest.Unchanged(t, srv, func() {
			apitest.RequireProblem(t, srv.Do(t, c.method, c.path, c.body), http.StatusBadRequest, c.want)
		})
	}
}

// The list: keyset pages in every order, prefix search on the name, deleted teams on demand.
func TestListPagesAndSearches(t *testing.T) {
	prefix := "Lst" + apitest.Unique()
	var made []string
	for _, n := range []string{"c", "a", "b"} {
		made = append(made, newTeamNamed(t, prefix+" "+n).Name)
	}
	walk := func(query string) []string {
		var names []string
		path := "/api/v1/teams?limit=2&q=" + strings.ToLower(prefix) + query
		for {
			resp := srv.Do(t, http.MethodGet, path, nil)
			require.Equal(t, http.StatusOK, resp.Status, "%s", resp.Body)
			var p page[team]
			resp.JSON(t, &p)
			for _, tm := range p.Items {
				names = append(names, tm.Name)
			}
			if p.NextCursor == nil {
				return names
			}
			path = "/api/v1/teams?limit=2&q=" + strings.ToLower(prefix) + query + "&cursor=" + *p.NextCursor
		}
	}
	assert.Equal(t, made, walk(""), "oldest first by default")
	assert.Equal(t, []string{made[2], made[1], made[0]}, walk("&sort=-created_at"))
	assert.Equal(t, []string{prefix + " a", prefix + " b", prefix + " c"}, walk("&sort=name"))

	resp := srv.Do(t, http.MethodGet, "/api/v1/teams?limit=2&q="+prefix, nil)
	var p page[team]
	resp.JSON(t, &p)
	require.NotNil(t, p.NextCursor)
	bad := srv.Do(t, http.MethodGet, "/api/v1/teams?limit=2&sort=name&q="+prefix+"&cursor="+*p.NextCursor, nil)
	apitest.RequireProblem(t, bad, http.StatusBadRequest, "cursor")
}

// POST /teams honours Idempotency-Key: the same key and body again is the same team.
func TestCreateIsIdempotentWithAKey(t *testing.T) {
	body := map[string]string{"name": "Idem " + apitest.Unique()}
	key := "k-" + apitest.Unique()
	first := srv.Do(t, http.MethodPost, "/api/v1/teams", body, "Idempotency-Key", key)
	require.Equal(t, http.StatusCreated, first.Status, "%s", first.Body)
	again := srv.Do(t, http.MethodPost, "/api/v1/teams", body, "Idempotency-Key", key)
	require.Equal(t, http.StatusCreated, again.Status)
	assert.Equal(t, "true", again.Header.Get("Idempotent-Replayed"))
	assert.Equal(t, string(first.Body), string(again.Body))
	var n int64
	require.NoError(t, srv.DB.Raw(`SELECT count(*) FROM teams WHERE name = ?`, body["name"]).Scan(&n).Error)
	assert.EqualValues(t, 1, n)
}
