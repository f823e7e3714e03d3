package users_test

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func patch(t *testing.T, id string, body any, headers ...string) *user {
	t.Helper()
	resp := srv.Do(t, http.MethodPatch, "/api/v1/users/"+id, body, headers...)
	require.Equal(t, http.StatusOK, resp.Status, "%s", resp.Body)
	var u user
	resp.JSON(t, &u)
	assert.Equal(t, `"`+strconv.Itoa(u.Version)+`"`, resp.Header.Get("ETag"))
	return &u
}

func TestPatchUpdatesGivenFieldsAndBumpsVersion(t *testing.T) {
	u := register(t, "pat")
	got := patch(t, u.ID, map[string]string{"full_name": "New Name"}, "If-Match", `"1"`)
	assert.Equal(t, "New Name", got.FullName)
	assert.Equal(t, u.Username, got.Username, "fields not given stay")
	assert.Equal(t, u.Email, got.Email)
	assert.Equal(t, 2, got.Version)
	assert.True(t, got.UpdatedAt.After(u.UpdatedAt))

	newName := "patched" + unique()
	got = patch(t, u.ID, map[string]string{"username": newName, "email": newName + "@x.io"})
	assert.Equal(t, newName, got.Username)
	assert.Equal(t, 3, got.Version, "If-Match is optional")

	same := patch(t, u.ID, map[string]string{"full_name": "New Name"})
	assert.Equal(t, 3, same.Version, "a PATCH that changes nothing creates no version")
}

func TestPatchStaleIfMatchIsPreconditionFailed(t *testing.T) {
	u := register(t, "stale")
	patch(t, u.ID, map[string]string{"full_name": "v2"}, "If-Match", `"1"`)
	unchanged(t, func() {
		resp := srv.Do(t, http.MethodPatch, "/api/v1/users/"+u.ID, map[string]string{"full_name": "v3"}, "If-Match", `"1"`)
		requireProblem(t, resp, http.StatusPreconditionFailed, "version 2")
	})
}

func TestPatchRejectsBadInput(t *testing.T) {
	u := register(t, "patbad")
	other := register(t, "patother")
	cases := []struct {
		name    string
		body    string
		headers []string
		status  int
		detail  string
	}{
		{"id is not patchable", `{"id": "` + uuid.NewString() + `"}`, nil, 400, `unknown field "id"`},
		{"version is not patchable", `{"version": 9}`, nil, 400, `unknown field "version"`},
		{"deleted_at is not patchable", `{"deleted_at": null}`, nil, 400, `unknown field "deleted_at"`},
		{"empty patch", `{}`, nil, 400, "nothing to update"},
		{"null", `{"full_name": null}`, nil, 400, "must not be null"},
		{"wrong type", `{"email": 1}`, nil, 400, "email must be a string"},
		{"invalid username", `{"username": "no spaces"}`, nil, 400, "username"},
		{"invalid email", `{"email": "nope"}`, nil, 400, "email"},
		{"bad JSON", `{"email": `, nil, 400, "JSON"},
		{"malformed If-Match", `{"full_name": "x"}`, []string{"If-Match", `"abc"`}, 400, "If-Match"},
		{"weak If-Match", `{"full_name": "x"}`, []string{"If-Match", `W/"1"`}, 400, "If-Match"},
		{"username taken", `{"username": "` + other.Username + `"}`, nil, 409, "username"},
		{"email taken", `{"email": "` + other.Email + `"}`, nil, 409, "email"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			unchanged(t, func() {
				resp := srv.Do(t, http.MethodPatch, "/api/v1/users/"+u.ID, tc.body, tc.headers...)
				requireProblem(t, resp, tc.status, tc.detail)
			})
		})
	}
	requireProblem(t, srv.Do(t, http.MethodPatch, "/api/v1/users/"+uuid.NewString(), `{"full_name":"x"}`), 404, "not found")
	requireProblem(t, srv.Do(t, http.MethodPatch, "/api/v1/users/nope", `{"full_name":"x"}`), 400, "not a UUID")
}

func TestPatchDeletedUserIsNotFound(t *testing.T) {
	u := register(t, "patdel")
	require.Equal(t, http.StatusNoContent, srv.Do(t, http.MethodDelete, "/api/v1/users/"+u.ID, nil).Status)
	unchanged(t, func() {
		requireProblem(t, srv.Do(t, http.MethodPatch, "/api/v1/users/"+u.ID, `{"full_name":"x"}`), 404, "not found")
	})
}

// TestConcurrentPatchesWithSameIfMatch: two writers that read version 1 race; exactly one
// wins and the other learns its copy is stale. A blocker holds the row so that both requests
// are provably in flight at the same time before either can proceed.
func TestConcurrentPatchesWithSameIfMatch(t *testing.T) {
	u := register(t, "race")
	blocker := srv.DB.Begin()
	require.NoError(t, blocker.Error)
	require.NoError(t, blocker.Exec("SELECT 1 FROM users WHERE id = ? FOR UPDATE", u.ID).Error)

	statuses := make(chan int, 2)
	var wg sync.WaitGroup
	for _, name := range []string{"first", "second"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := srv.Request(context.Background(), http.MethodPatch, "/api/v1/users/"+u.ID,
				map[string]string{"full_name": name}, "If-Match", `"1"`)
			if err != nil {
				statuses <- 0
				return
			}
			statuses <- resp.Status
		}()
	}
	waitForLockWaiters(t, 2)
	require.NoError(t, blocker.Commit().Error)
	wg.Wait()
	close(statuses)

	var got []int
	for s := range statuses {
		got = append(got, s)
	}
	assert.ElementsMatch(t, []int{http.StatusOK, http.StatusPreconditionFailed}, got)
	final := srv.Do(t, http.MethodGet, "/api/v1/users/"+u.ID, nil)
	var fu user
	final.JSON(t, &fu)
	assert.Equal(t, 2, fu.Version, "exactly one update applied")
}

// waitForLockWaiters waits until n of our backends wait on a lock.
func waitForLockWaiters(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var waiting int
		require.NoError(t, srv.DB.Raw(`SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock'`).Scan(&waiting).Error)
		if waiting >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d requests reached the lock", waiting, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
