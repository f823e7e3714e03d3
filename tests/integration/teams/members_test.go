package teams_test

import (
	"net/http"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"usersvc/tests/apitest"
)

// PUT adds (201), again is a no-op (200), with a role changes the role (200); DELETE removes;
// members come newest first; a user's teams are GET /teams?member=.
func TestMembershipLifecycle(t *testing.T) {
	tm, other := newTeam(t, "Members"), newTeam(t, "Other")
	alice, bob := newUser(t), newUser(t)
	path := func(teamID, user string) string { return "/api/v1/teams/" + teamID + "/members/" + user }

	added := srv.Do(t, http.MethodPut, path(tm.ID, alice), nil)
	require.Equal(t, http.StatusCreated, added.Status, "%s", added.Body)
	var m member
	added.JSON(t, &m)
	assert.Equal(t, member{TeamID: tm.ID, UserID: alice, Role: "member", AddedAt: m.AddedAt}, m)
	apitest.Unchanged(t, srv, func() {
		require.Equal(t, http.StatusOK, srv.Do(t, http.MethodPut, path(tm.ID, alice), nil).Status, "idempotent")
		require.Equal(t, http.StatusOK, srv.Do(t, http.MethodPut, path(tm.ID, alice), map[string]string{"role": "member"}).Status)
	})
	changed := srv.Do(t, http.MethodPut, path(tm.ID, alice), map[string]string{"role": "maintainer"})
	require.Equal(t, http.StatusOK, changed.Status)
	changed.JSON(t, &m)
	assert.Equal(t, "maintainer", m.Role)
	require.Equal(t, http.StatusCreated, srv.Do(t, http.MethodPut, path(tm.ID, bob), nil).Status)
	require.Equal(t, http.StatusCreated, srv.Do(t, http.MethodPut, path(other.ID, alice), nil).Status)

	got := members(t, tm.ID)
	require.Len(t, got, 2)
	assert.Equal(t, []string{bob, alice}, []string{got[0].UserID, got[1].UserID}, "newest first")
	assert.Equal(t, "maintainer", got[1].Role, "a role change keeps the membership's place")

	var teams page[team]
	srv.Do(t, http.MethodGet, "/api/v1/teams?sort=name&member="+alice, nil).JSON(t, &teams)
	assert.ElementsMatch(t, []string{tm.ID, other.ID}, []string{teams.Items[0].ID, teams.Items[1].ID})
	srv.Do(t, http.MethodGet, "/api/v1/teams?member="+bob, nil).JSON(t, &teams)
	require.Len(t, teams.Items, 1)

	require.Equal(t, http.StatusNoContent, srv.Do(t, http.MethodDelete, path(tm.ID, alice), nil).Status)
	apitest.RequireProblem(t, srv.Do(t, http.MethodDelete, path(tm.ID, alice), nil), http.StatusNotFound,
		"user "+alice+" is not a member of team "+tm.ID)
	assert.Len(t, members(t, tm.ID), 1)

	var trail page[struct {
		Action  string
		Changes map[string]any
	}]
	srv.Do(t, http.MethodGet, "/api/v1/teams/"+tm.ID+"/events", nil).JSON(t, &trail)
	var actions []string
	for _, e := range trail.Items {
		actions = append(actions, e.Action)
	}
	assert.Equal(t, []string{"member_removed", "member_added", "member_changed", "member_added", "created"}, actions)
}

// An unknown or deleted user or team is a 404 naming which one, and nothing is stored.
func TestMissingUserOrTeamIs404NamingIt(t *testing.T) {
	tm, gone := newTeam(t, "Live"), newTeam(t, "Gone")
	require.Equal(t, http.StatusNoContent, srv.Do(t, http.MethodDelete, "/api/v1/teams/"+gone.ID, nil).Status)
	user, deletedUser, nobody := newUser(t), newUser(t), uuid.NewString()
	require.Equal(t, http.StatusNoContent, srv.Do(t, http.MethodDelete, "/api/v1/users/"+deletedUser, nil).Status)

	apitest.Unchanged(t, srv, func() {
		for _, c := range []struct{ teamID, user, want string }{
			{tm.ID, nobody, "user " + nobody + " not found"},
			{tm.ID, deletedUser, "user " + deletedUser + " not found"},
			{gone.ID, user, "team " + gone.ID + " not found"},
			{nobody, user, "team " + nobody + " not found"},
		} {
			apitest.RequireProblem(t, srv.Do(t, http.MethodPut, "/api/v1/teams/"+c.teamID+"/members/"+c.user, nil),
				http.StatusNotFound, c.want)
		}
		apitest.RequireProblem(t, srv.Do(t, http.MethodGet, "/api/v1/teams/"+gone.ID+"/members", nil),
			http.StatusNotFound, "team "+gone.ID+" not found")
		apitest.RequireProblem(t, srv.Do(t, http.MethodGet, "/api/v1/teams?member="+deletedUser, nil),
			http.StatusNotFound, "user "+deletedUser+" not found")
	})
}

// A deleted team's memberships are hidden with it and come back with its restore: they are
// the team's own data.
func TestTeamRestoreBringsItsMembersBack(t *testing.T) {
	tm, user := newTeam(t, "Paused"), newUser(t)
	require.Equal(t, http.StatusCreated, srv.Do(t, http.MethodPut, "/api/v1/teams/"+tm.ID+"/members/"+user, nil).Status)
	require.Equal(t, http.StatusNoContent, srv.Do(t, http.MethodDelete, "/api/v1/teams/"+tm.ID, nil).Status)
	var teams page[team]
	srv.Do(t, http.MethodGet, "/api/v1/teams?member="+user, nil).JSON(t, &teams)
	assert.Empty(t, teams.Items, "a deleted team is nobody's team")
	require.Equal(t, http.StatusOK, srv.Do(t, http.MethodPost, "/api/v1/teams/"+tm.ID+"/restore", nil).Status)
	assert.Len(t, members(t, tm.ID), 1)
}
