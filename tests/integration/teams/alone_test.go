package teams_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"usersvc/app"
	"usersvc/modules/teams"
	"usersvc/modules/users/userapi/userapitest"
	"usersvc/tests/apitest"
	"usersvc/tests/testapp"
)

// The teams module served alone, with a stub of the users contract in the users module's
// place: a module's tests need only the contracts it uses. Memberships follow what the stub
// says of users; the users API is not there at all.
func TestTeamsAloneWithAStubbedUsersContract(t *testing.T) {
	var stub *userapitest.Stub
	s, err := testapp.Start("teams_alone", testapp.Options{Modules: func(d app.Deps) []app.Module {
		stub = userapitest.New(d.ForModule("users"))
		return []app.Module{stub, teams.New(teams.Deps{DB: d.ForModule("teams"), Cursors: d.Cursors, Users: stub})}
	}})
	require.NoError(t, err)
	defer func() { require.NoError(t, s.Close()) }()
	ctx := context.Background()

	assert.Equal(t, http.StatusNotFound, s.Do(t, http.MethodGet, "/api/v1/users", nil).Status, "no users module here")
	resp := s.Do(t, http.MethodPost, "/api/v1/teams", map[string]string{"name": "Alone"})
	require.Equal(t, http.StatusCreated, resp.Status, "%s", resp.Body)
	var tm team
	resp.JSON(t, &tm)
	user := uuid.New()
	path := "/api/v1/teams/" + tm.ID + "/members/" + user.String()
	apitest.RequireProblem(t, s.Do(t, http.MethodPut, path, nil), http.StatusNotFound, "user "+user.String()+" not found")

	require.NoError(t, stub.Add(ctx, user))
	require.Equal(t, http.StatusCreated, s.Do(t, http.MethodPut, path, nil).Status)
	var p page[member]
	s.Do(t, http.MethodGet, "/api/v1/teams/"+tm.ID+"/members", nil).JSON(t, &p)
	require.Len(t, p.Items, 1)

	require.NoError(t, stub.Delete(ctx, user))
	s.Do(t, http.MethodGet, "/api/v1/teams/"+tm.ID+"/members", nil).JSON(t, &p)
	assert.Empty(t, p.Items, "the stub's user is gone, and so is the membership")
	require.NoError(t, stub.Add(ctx, user))
	s.Do(t, http.MethodGet, "/api/v1/teams/"+tm.ID+"/members", nil).JSON(t, &p)
	assert.Empty(t, p.Items, "back in a new generation: the old membership stays ended")
}
