// Package api_test drives the users API over HTTP against the real app and a PostgreSQL
// database created for this run. Tests run one after another (no t.Parallel) so that
// "stored rows unchanged" checks see only their own requests.
package api_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"usersvc/tests/testapp"
)

var srv *testapp.Server

func TestMain(m *testing.M) {
	var err error
	srv, err = testapp.Start("api", testapp.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "start test server:", err)
		os.Exit(1)
	}
	code := m.Run()
	if err := checkNoLeaks(); err != nil {
		fmt.Fprintln(os.Stderr, "connection leak:", err)
		code = 1
	}
	if err := srv.Close(); err != nil {
		fmt.Fprintln(os.Stderr, "close test server:", err)
		code = 1
	}
	os.Exit(code)
}

// checkNoLeaks: after the suite, no pooled connection is checked out and none of ours sits
// idle in a transaction on the server.
func checkNoLeaks() error {
	sqlDB, err := srv.DB.DB()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	// Wait out requests whose handlers are still returning connections.
	for sqlDB.Stats().InUse > 0 && ctx.Err() == nil {
		time.Sleep(10 * time.Millisecond)
	}
	if n := sqlDB.Stats().InUse; n != 0 {
		return fmt.Errorf("%d pool connections still in use after the suite", n)
	}
	var idleInTx int
	err = sqlDB.QueryRowContext(ctx, `SELECT count(*) FROM pg_stat_activity
		WHERE datname = current_database() AND application_name = $1 AND state LIKE 'idle in transaction%'`,
		srv.Cfg.ServiceName).Scan(&idleInTx)
	if err != nil {
		return err
	}
	if idleInTx != 0 {
		return fmt.Errorf("%d connections of ours idle in transaction", idleInTx)
	}
	return nil
}

// unique returns a short random lowercase suffix, so tests do not collide on names.
func unique() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

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

type problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
}

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
	require.Equal(t, status, resp.Status, "body: %s", resp.Body)
	require.Equal(t, "application/problem+json", resp.Header.Get("Content-Type"))
	var p problem
	resp.JSON(t, &p)
	require.Equal(t, status, p.Status)
	require.NotEmpty(t, p.Title)
	require.Contains(t, p.Detail, want)
	return p
}

// snapshot fingerprints every stored user and event, to prove a rejected request changed
// nothing.
func snapshot(t *testing.T) string {
	t.Helper()
	var s string
	err := srv.DB.Raw(`SELECT md5(
		coalesce((SELECT string_agg(u::text, '|' ORDER BY u.id) FROM users u), '') || '#' ||
		coalesce((SELECT string_agg(e::text, '|' ORDER BY e.id) FROM user_events e), ''))`).Scan(&s).Error
	require.NoError(t, err)
	return s
}

// unchanged runs fn and fails if stored users or events differ afterwards.
func unchanged(t *testing.T, fn func()) {
	t.Helper()
	before := snapshot(t)
	fn()
	require.Equal(t, before, snapshot(t), "stored rows changed")
}
