// Package teams_test drives the teams API over HTTP against the real app (users included:
// memberships go through the users contract) on a database created for this run. Tests run
// one after another (no t.Parallel) so that "stored rows unchanged" checks see only their
// own requests.
package teams_test

import (
	"context"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"usersvc/tests/apitest"
	"usersvc/tests/testapp"
)

var srv *testapp.Server

func TestMain(m *testing.M) { os.Exit(apitest.Main(m, "teams", &srv)) }

// team is a team as the API returns it.
type team struct {
	ID          string     `json:"id"`
	Name        string     `json:"name"`
	Description string     `json:"description"`
	Version     int        `json:"version"`
	CreatedAt   time.Time  `json:"created_at"`
	UpdatedAt   time.Time  `json:"updated_at"`
	DeletedAt   *time.Time `json:"deleted_at"`
}

// member is a membership as the API returns it.
type member struct {
	TeamID  string    `json:"team_id"`
	UserID  string    `json:"user_id"`
	Role    string    `json:"role"`
	AddedAt time.Time `json:"added_at"`
}

type page[T any] struct {
	Items      []T     `json:"items"`
	NextCursor *string `json:"next_cursor"`
}

// newTeam creates a team named prefix plus a random suffix.
func newTeam(t *testing.T, prefix string) team {
	t.Helper()
	resp := srv.Do(t, http.MethodPost, "/api/v1/teams", map[string]string{"name": prefix + " " + apitest.Unique()})
	require.Equal(t, http.StatusCreated, resp.Status, "create team: %s", resp.Body)
	var tm team
	resp.JSON(t, &tm)
	return tm
}

// newUser registers a user and returns its id.
func newUser(t *testing.T) string {
	t.Helper()
	name := "tm" + apitest.Unique()
	resp := srv.Do(t, http.MethodPost, "/api/v1/users", map[string]string{"username": name, "email": name + "@example.com"})
	require.Equal(t, http.StatusCreated, resp.Status, "register: %s", resp.Body)
	var u struct{ ID string }
	resp.JSON(t, &u)
	return u.ID
}

// members lists a team's members (every page).
func members(t *testing.T, teamID string) []member {
	t.Helper()
	var all []member
	path := "/api/v1/teams/" + teamID + "/members?limit=2"
	for {
		resp := srv.Do(t, http.MethodGet, path, nil)
		require.Equal(t, http.StatusOK, resp.Status, "%s", resp.Body)
		var p page[member]
		resp.JSON(t, &p)
		all = append(all, p.Items...)
		if p.NextCursor == nil {
			return all
		}
		path = "/api/v1/teams/" + teamID + "/members?limit=2&cursor=" + *p.NextCursor
	}
}

// storedMemberships counts a user's membership rows, visible or not.
func storedMemberships(t *testing.T, userID string) int64 {
	t.Helper()
	var n int64
	require.NoError(t, srv.DB.Raw(`SELECT count(*) FROM team_members WHERE user_id = ?`, userID).Scan(&n).Error)
	return n
}

// eventually polls cond every 20ms for up to 10s (event delivery polls every 100ms in tests).
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("gave up waiting for %s", what)
		case <-time.After(20 * time.Millisecond):
		}
	}
}
