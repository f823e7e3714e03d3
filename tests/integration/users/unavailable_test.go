package users_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"usersvc/tests/testapp"
)

// A database that does not answer in time is a 503 with Retry-After, within the statement
// timeout, and the change it would have made is not there.
func TestDatabaseTimeoutIsServiceUnavailable(t *testing.T) {
	s, err := testapp.Start("timeout", testapp.Options{Env: []string{"USERSVC_DATABASE__STATEMENT_TIMEOUT=300ms"}})
	require.NoError(t, err)
	defer func() { require.NoError(t, s.Close()) }()

	resp := s.Do(t, http.MethodPost, "/api/v1/users", map[string]string{"username": "slowpoke", "email": "slow@x.io"})
	require.Equal(t, http.StatusCreated, resp.Status)
	var u user
	resp.JSON(t, &u)

	blocker := s.DB.Begin()
	require.NoError(t, blocker.Exec("SELECT 1 FROM users WHERE id = ? FOR UPDATE", u.ID).Error)
	defer blocker.Rollback()

	start := time.Now()
	resp = s.Do(t, http.MethodPatch, "/api/v1/users/"+u.ID, map[string]string{"full_name": "never"})
	elapsed := time.Since(start)
	requireProblem(t, resp, http.StatusServiceUnavailable, "retry later")
	assert.Equal(t, "1", resp.Header.Get("Retry-After"))
	assert.Less(t, elapsed, 3*time.Second, "bounded by the statement timeout, not the lock holder")
	require.NoError(t, blocker.Rollback().Error)

	var stored user
	s.Do(t, http.MethodGet, "/api/v1/users/"+u.ID, nil).JSON(t, &stored)
	assert.Equal(t, 1, stored.Version)
	assert.Equal(t, "", stored.FullName)
}

// Two batches naming the same users in opposite orders race: one stores its users, the
// other is told which item conflicts. Neither gets a 500 (a deadlock between them is retried),
// and nothing is stored twice.
func TestConcurrentOverlappingBatches(t *testing.T) {
	for round := 0; round < 3; round++ {
		prefix := "ovl" + unique()
		forward := batchOf(prefix, 400)
		backward := make([]map[string]any, len(forward))
		for i := range forward {
			backward[len(forward)-1-i] = forward[i]
		}
		statuses := make(chan int, 2)
		for _, b := range [][]map[string]any{forward, backward} {
			go func() {
				resp, err := srv.Request(context.Background(), http.MethodPost, "/api/v1/users/batch", map[string]any{"users": b})
				if err != nil {
					statuses <- 0
					return
				}
				statuses <- resp.Status
			}()
		}
		got := []int{<-statuses, <-statuses}
		assert.ElementsMatch(t, []int{http.StatusCreated, http.StatusConflict}, got, "round %d", round)
		var stored int64
		require.NoError(t, srv.DB.Raw("SELECT count(*) FROM users WHERE username LIKE ?", prefix+"%").Scan(&stored).Error)
		assert.EqualValues(t, 400, stored, "round %d: one batch stored, once", round)
	}
}
