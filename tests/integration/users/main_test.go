// Package users_test drives the users API over HTTP against the real app and a PostgreSQL
// database created for this run. Tests run one after another (no t.Parallel) so that
// "stored rows unchanged" checks see only their own requests.
package users_test

import (
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"usersvc/tests/apitest"
	"usersvc/tests/testapp"
)

var srv *testapp.Server

func TestMain(m *testing.M) { os.Exit(apitest.Main(m, "users", &srv)) }

// unique returns a short random suffix, so tests do not collide on names.
func unique() string { return apitest.Unique() }

// user is a user as the API returns it.
type user struct {
	ID        string     `json:"id"`
	Username  string     `json:"username"`
	Email     string     `json:"email"`
	FullName  string     `json:"full_name"`
	Version   int        `json:"version"`
	CreatedAt time.Time  `json:"created_at"`
	UpdatedAt time.Time  `json:"updated_at"`
	DeletedAt *time.Time `json:"deleted_at"`
}

type userPage struct {
	Items      []user  `json:"items"`
	NextCursor *string `json:"next_cursor"`
}

type problem = apitest.Problem

// register creates a user named prefix+random and returns it.
func register(t *testing.T, prefix string) user {
	t.Helper()
	name := prefix + unique()
	resp := srv.Do(t, http.MethodPost, "/api/v1/users", map[string]string{
		"username": name, "email": name + "@example.com", "full_name": "Test " + name,
	})
	require.Equal(t, http.StatusCreated, resp.Status, "register: %s", resp.Body)
	var u user
	resp.JSON(t, &u)
	return u
}

// requireProblem checks a problem+json answer with status and a detail containing want.
func requireProblem(t *testing.T, resp *testapp.Response, status int, want string) problem {
	t.Helper()
	return apitest.RequireProblem(t, resp, status, want)
}

// unchanged runs fn and fails if any module's stored rows differ afterwards.
func unchanged(t *testing.T, fn func()) {
	t.Helper()
	apitest.Unchanged(t, srv, fn)
}
