package users_test

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"usersvc/tests/testapp"
)

type event struct {
	ID      int64          `json:"id"`
	Action  string         `json:"action"`
	Actor   string         `json:"actor"`
	Changes map[string]any `json:"changes"`
	At      time.Time      `json:"at"`
}

type eventPage struct {
	Items      []event `json:"items"`
	NextCursor *string `json:"next_cursor"`
}

func events(t *testing.T, id string, q url.Values) eventPage {
	t.Helper()
	resp := srv.Do(t, http.MethodGet, "/api/v1/users/"+id+"/events?"+q.Encode(), nil)
	require.Equal(t, http.StatusOK, resp.Status, "%s", resp.Body)
	var p eventPage
	resp.JSON(t, &p)
	return p
}

func TestEventsRecordEveryChangeNewestFirst(t *testing.T) {
	u := register(t, "evt")
	patch(t, u.ID, map[string]string{"full_name": "Changed"})
	del(t, u.ID)
	require.Equal(t, http.StatusOK, srv.Do(t, http.MethodPost, "/api/v1/users/"+u.ID+"/restore", nil).Status)

	p := events(t, u.ID, nil)
	require.Len(t, p.Items, 4)
	var actions []string
	for _, e := range p.Items {
		actions = append(actions, e.Action)
	}
	assert.Equal(t, []string{"restored", "deleted", "updated", "created"}, actions)
	for _, e := range p.Items {
		assert.Equal(t, testapp.TokenName, e.Actor, "%s: the token's name is the actor (issue 10, finding 8)", e.Action)
	}
	assert.Equal(t, map[string]any{"full_name": map[string]any{"from": u.FullName, "to": "Changed"}}, p.Items[2].Changes)
	assert.Equal(t, map[string]any{"username": u.Username, "email": u.Email, "full_name": u.FullName}, p.Items[3].Changes)
	assert.Nil(t, p.NextCursor)

	// Paged one at a time, newest first, the same sequence.
	var paged []string
	cursor := ""
	for {
		q := url.Values{"limit": {"1"}}
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		page := events(t, u.ID, q)
		for _, e := range page.Items {
			paged = append(paged, e.Action)
		}
		if page.NextCursor == nil {
			break
		}
		cursor = *page.NextCursor
	}
	assert.Equal(t, actions, paged)
}

func TestFailedChangesRecordNoEvent(t *testing.T) {
	u := register(t, "evtf")
	other := register(t, "evto")
	requireProblem(t, srv.Do(t, http.MethodPatch, "/api/v1/users/"+u.ID, map[string]string{"username": other.Username}), http.StatusConflict, "username")
	requireProblem(t, srv.Do(t, http.MethodPatch, "/api/v1/users/"+u.ID, map[string]string{"full_name": "x"}, "If-Match", `"9"`), http.StatusPreconditionFailed, "version")
	requireProblem(t, srv.Do(t, http.MethodDelete, "/api/v1/users/"+u.ID+"?x=1", nil), http.StatusBadRequest, "unknown query parameter")
	requireProblem(t, srv.Do(t, http.MethodPost, "/api/v1/users/"+u.ID+"/restore", nil), http.StatusNotFound, "no deleted user")
	assert.Len(t, events(t, u.ID, nil).Items, 1, "only the created event")
}

func TestEventsErrors(t *testing.T) {
	a, b := register(t, "evea"), register(t, "eveb")
	patch(t, a.ID, map[string]string{"full_name": "1"})
	p := events(t, a.ID, url.Values{"limit": {"1"}})
	require.NotNil(t, p.NextCursor)
	requireProblem(t, srv.Do(t, http.MethodGet, "/api/v1/users/"+b.ID+"/events?cursor="+url.QueryEscape(*p.NextCursor), nil),
		http.StatusBadRequest, "cursor")
	requireProblem(t, srv.Do(t, http.MethodGet, "/api/v1/users/"+uuid.NewString()+"/events", nil), http.StatusNotFound, "not found")
	requireProblem(t, srv.Do(t, http.MethodGet, "/api/v1/users/"+a.ID+"/events?limit=0", nil), http.StatusBadRequest, "limit")
}

func TestDeletedUserKeepsEvents(t *testing.T) {
	u := register(t, "evdel")
	del(t, u.ID)
	assert.Len(t, events(t, u.ID, nil).Items, 2)
}

// A batch writes its audit rows itself: they name the actor too (issue 10, finding 8).
func TestBatchEventsRecordTheActor(t *testing.T) {
	name := "bactor" + unique()
	resp := srv.Do(t, http.MethodPost, "/api/v1/users/batch", map[string]any{"users": []map[string]string{
		{"username": name, "email": name + "@x.io"},
	}})
	require.Equal(t, http.StatusCreated, resp.Status, "%s", resp.Body)
	var created struct {
		Items []user `json:"items"`
	}
	resp.JSON(t, &created)
	require.Len(t, created.Items, 1)
	p := events(t, created.Items[0].ID, nil)
	require.Len(t, p.Items, 1)
	assert.Equal(t, testapp.TokenName, p.Items[0].Actor)
}
