package teams_test

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"usersvc/tests/testapp"
)

func visibleMember(t *testing.T, teamID, userID string) bool {
	t.Helper()
	for _, m := range members(t, teamID) {
		if m.UserID == userID {
			return true
		}
	}
	return false
}

// Deleting a user ends their memberships: hidden from the moment the delete commits (the
// users module's view decides, before any event is delivered); once user.deleted is
// delivered the rows are gone and each team's trail says why. A restored user starts with
// no teams: memberships belonged to the life that ended. Added again, they are new.
func TestDeletingAUserEndsTheirMemberships(t *testing.T) {
	a, b, user := newTeam(t, "Del A"), newTeam(t, "Del B"), newUser(t)
	for _, tm := range []team{a, b} {
		require.Equal(t, http.StatusCreated, srv.Do(t, http.MethodPut, "/api/v1/teams/"+tm.ID+"/members/"+user, nil).Status)
	}
	require.Equal(t, http.StatusNoContent, srv.Do(t, http.MethodDelete, "/api/v1/users/"+user, nil).Status)
	assert.False(t, visibleMember(t, a.ID, user))
	assert.Equal(t, http.StatusNotFound, srv.Do(t, http.MethodGet, "/api/v1/teams?member="+user, nil).Status)

	eventually(t, "user.deleted to remove the memberships", func() bool { return storedMemberships(t, user) == 0 })
	var removed struct{ Reason, Actor string }
	require.NoError(t, srv.DB.Raw(`SELECT changes->>'reason' AS reason, actor FROM team_events
		WHERE team_id = ? AND action = 'member_removed' AND changes->>'user_id' = ?`, b.ID, user).Scan(&removed).Error)
	assert.Equal(t, "user deleted", removed.Reason)
	assert.Equal(t, testapp.TokenName, removed.Actor, "the delete's actor, carried by user.deleted (issue 10, finding 8)")

	require.Equal(t, http.StatusOK, srv.Do(t, http.MethodPost, "/api/v1/users/"+user+"/restore", nil).Status)
	var teams page[team]
	srv.Do(t, http.MethodGet, "/api/v1/teams?member="+user, nil).JSON(t, &teams)
	assert.Empty(t, teams.Items, "a restored user has no teams")
	require.Equal(t, http.StatusCreated, srv.Do(t, http.MethodPut, "/api/v1/teams/"+a.ID+"/members/"+user, nil).Status)
	assert.True(t, visibleMember(t, a.ID, user))
}

// Deleted and restored at once, before user.deleted can be delivered: the old memberships do
// not come back, whenever the event arrives (it removes only the old life's rows).
func TestRestoreBeforeDeliveryDoesNotBringMembershipsBack(t *testing.T) {
	tm, user := newTeam(t, "Quick"), newUser(t)
	require.Equal(t, http.StatusCreated, srv.Do(t, http.MethodPut, "/api/v1/teams/"+tm.ID+"/members/"+user, nil).Status)
	require.Equal(t, http.StatusNoContent, srv.Do(t, http.MethodDelete, "/api/v1/users/"+user, nil).Status)
	require.Equal(t, http.StatusOK, srv.Do(t, http.MethodPost, "/api/v1/users/"+user+"/restore", nil).Status)
	assert.False(t, visibleMember(t, tm.ID, user))
	require.Equal(t, http.StatusCreated, srv.Do(t, http.MethodPut, "/api/v1/teams/"+tm.ID+"/members/"+user, nil).Status,
		"added again: a membership of the new life")
	eventually(t, "the old life's membership to be removed", func() bool {
		var old int64
		require.NoError(t, srv.DB.Raw(`SELECT count(*) FROM team_members WHERE user_id = ? AND user_generation = 1`, user).Scan(&old).Error)
		return old == 0
	})
	assert.True(t, visibleMember(t, tm.ID, user), "the new membership stays")
}

// The invariant, raced for real over HTTP: an add-member and the user's delete, started
// together, in many rounds and in both orders (a 20ms head start for one side, or none).
// Whatever the order, once both answered no membership of the deleted user is visible, and
// once events are delivered none is stored. The add either committed first (201: its
// FOR KEY SHARE lock made the delete wait, so the user was deleted after the membership was
// added, and user.deleted removes the row) or found the user deleted (404: the delete's
// FOR UPDATE made it wait, then it saw the commit). Without the lock an add could check the
// user, let the delete commit, and add a membership to a deleted user: the added-before-
// deleted check catches that.
func TestAddMemberRacingUserDeleteLeavesNoMembership(t *testing.T) {
	const rounds = 45
	tm := newTeam(t, "Race")
	outcomes := map[int]int{}
	var users []string
	for i := range rounds {
		user := newUser(t)
		users = append(users, user)
		addDelay, delDelay := time.Duration(0), time.Duration(0)
		switch i % 3 {
		case 0:
			delDelay = 20 * time.Millisecond // add first
		case 1:
			addDelay = 20 * time.Millisecond // delete first
		}
		start := make(chan struct{})
		var add, del *testapp.Response
		var addErr, delErr error
		var wg sync.WaitGroup
		wg.Go(func() {
			<-start
			time.Sleep(addDelay)
			add, addErr = srv.Request(context.Background(), http.MethodPut, "/api/v1/teams/"+tm.ID+"/members/"+user, nil)
		})
		wg.Go(func() {
			<-start
			time.Sleep(delDelay)
			del, delErr = srv.Request(context.Background(), http.MethodDelete, "/api/v1/users/"+user, nil)
		})
		close(start)
		wg.Wait()
		require.NoError(t, addErr)
		require.NoError(t, delErr)
		require.Equal(t, http.StatusNoContent, del.Status, "round %d: delete: %s", i, del.Body)
		require.Contains(t, []int{http.StatusCreated, http.StatusNotFound}, add.Status, "round %d: add: %s", i, add.Body)
		outcomes[add.Status]++
		require.False(t, visibleMember(t, tm.ID, user), "round %d: a deleted user's membership is visible", i)
		if add.Status == http.StatusCreated {
			// Added, so before the delete: the delete waited for the add's lock and read
			// its clock after the add committed.
			var m member
			add.JSON(t, &m)
			var u struct {
				DeletedAt time.Time `json:"deleted_at"`
			}
			srv.Do(t, http.MethodGet, "/api/v1/users/"+user+"?include_deleted=true", nil).JSON(t, &u)
			require.True(t, m.AddedAt.Before(u.DeletedAt), "round %d: membership added at %s to a user deleted at %s",
				i, m.AddedAt, u.DeletedAt)
		}
	}
	t.Logf("%d rounds: add committed first %d times, found the user deleted %d times",
		rounds, outcomes[http.StatusCreated], outcomes[http.StatusNotFound])
	assert.Positive(t, outcomes[http.StatusCreated], "the add won some rounds")
	assert.Positive(t, outcomes[http.StatusNotFound], "the delete won some rounds")
	eventually(t, "every raced membership to be removed", func() bool {
		for _, u := range users {
			if storedMemberships(t, u) != 0 {
				return false
			}
		}
		return true
	})
	assert.Empty(t, members(t, tm.ID))
}
