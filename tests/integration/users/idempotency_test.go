package users_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gorm.io/gorm"

	"usersvc/tests/testapp"
)

func countUsers(t *testing.T, s *testapp.Server, username string) int64 {
	t.Helper()
	var n int64
	require.NoError(t, s.DB.Raw("SELECT count(*) FROM users WHERE lower(username) = lower(?)", username).Scan(&n).Error)
	return n
}

func TestIdempotencyKeyReplaysTheStoredResponse(t *testing.T) {
	name := "idem" + unique()
	key := "key-" + unique()
	body := map[string]string{"username": name, "email": name + "@x.io"}
	first := srv.Do(t, http.MethodPost, "/api/v1/users", body, "Idempotency-Key", key)
	require.Equal(t, http.StatusCreated, first.Status, "%s", first.Body)
	assert.Empty(t, first.Header.Get("Idempotent-Replayed"))

	again := srv.Do(t, http.MethodPost, "/api/v1/users", body, "Idempotency-Key", key)
	assert.Equal(t, http.StatusCreated, again.Status)
	assert.Equal(t, string(first.Body), string(again.Body), "the same user, not a second one")
	assert.Equal(t, first.Header.Get("Location"), again.Header.Get("Location"))
	assert.Equal(t, first.Header.Get("ETag"), again.Header.Get("ETag"))
	assert.Equal(t, "true", again.Header.Get("Idempotent-Replayed"))
	assert.EqualValues(t, 1, countUsers(t, srv, name))
}

func TestIdempotencyKeyWithAnotherRequestIs422(t *testing.T) {
	name := "idemx" + unique()
	key := "key-" + unique()
	require.Equal(t, http.StatusCreated, srv.Do(t, http.MethodPost, "/api/v1/users",
		map[string]string{"username": name, "email": name + "@x.io"}, "Idempotency-Key", key).Status)
	unchanged(t, func() {
		resp := srv.Do(t, http.MethodPost, "/api/v1/users",
			map[string]string{"username": name + "b", "email": name + "b@x.io"}, "Idempotency-Key", key)
		requireProblem(t, resp, http.StatusUnprocessableEntity, "different request")
	})
	assert.EqualValues(t, 0, countUsers(t, srv, name+"b"))
}

// A 4xx is an answer too: it is stored and replayed, even if the conflict has gone since.
func TestIdempotencyKeyReplaysAConflict(t *testing.T) {
	holder := register(t, "idemc")
	key := "key-" + unique()
	body := map[string]string{"username": holder.Username, "email": "other" + unique() + "@x.io"}
	requireProblem(t, srv.Do(t, http.MethodPost, "/api/v1/users", body, "Idempotency-Key", key), http.StatusConflict, "username")
	del(t, holder.ID)
	resp := srv.Do(t, http.MethodPost, "/api/v1/users", body, "Idempotency-Key", key)
	requireProblem(t, resp, http.StatusConflict, "username")
	assert.Equal(t, "true", resp.Header.Get("Idempotent-Replayed"))
}

// Many clients retrying the same request at once: one write, and every one of them gets its
// answer.
func TestConcurrentRequestsWithOneKeyWriteOnce(t *testing.T) {
	name := "idemr" + unique()
	key := "key-" + unique()
	body := map[string]string{"username": name, "email": name + "@x.io"}
	var wg sync.WaitGroup
	bodies := make(chan string, 10)
	for i := 0; i < 10; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := srv.Request(context.Background(), http.MethodPost, "/api/v1/users", body, "Idempotency-Key", key)
			if err == nil && resp.Status == http.StatusCreated {
				bodies <- string(resp.Body)
			}
		}()
	}
	wg.Wait()
	close(bodies)
	var got []string
	for b := range bodies {
		got = append(got, b)
	}
	require.Len(t, got, 10, "every request answered 201")
	for _, b := range got {
		assert.Equal(t, got[0], b)
	}
	assert.EqualValues(t, 1, countUsers(t, srv, name))
}

func TestIdempotencyOnBatchAndRestore(t *testing.T) {
	prefix := "idemb" + unique()
	key := "key-" + unique()
	payload := map[string]any{"users": batchOf(prefix, 3)}
	first := srv.Do(t, http.MethodPost, "/api/v1/users/batch", payload, "Idempotency-Key", key)
	require.Equal(t, http.StatusCreated, first.Status, "%s", first.Body)
	again := srv.Do(t, http.MethodPost, "/api/v1/users/batch", payload, "Idempotency-Key", key)
	assert.Equal(t, string(first.Body), string(again.Body))
	var stored int64
	require.NoError(t, srv.DB.Raw("SELECT count(*) FROM users WHERE username LIKE ?", prefix+"%").Scan(&stored).Error)
	assert.EqualValues(t, 3, stored)

	u := register(t, "idemrs")
	del(t, u.ID)
	rkey := "key-" + unique()
	r1 := srv.Do(t, http.MethodPost, "/api/v1/users/"+u.ID+"/restore", nil, "Idempotency-Key", rkey)
	require.Equal(t, http.StatusOK, r1.Status)
	r2 := srv.Do(t, http.MethodPost, "/api/v1/users/"+u.ID+"/restore", nil, "Idempotency-Key", rkey)
	assert.Equal(t, http.StatusOK, r2.Status, "a retried restore is not a 404")
	assert.Equal(t, string(r1.Body), string(r2.Body))
}

func TestInvalidIdempotencyKeyIsBadRequest(t *testing.T) {
	name := "idemk" + unique()
	for _, key := range []string{strings.Repeat("k", 256), "has space", "ключ"} {
		unchanged(t, func() {
			resp := srv.Do(t, http.MethodPost, "/api/v1/users", map[string]string{"username": name, "email": name + "@x.io"}, "Idempotency-Key", key)
			requireProblem(t, resp, http.StatusBadRequest, "Idempotency-Key")
		})
	}
}

// An expired key is forgotten: the same key may carry a new request, and the cleanup
// deletes expired keys.
func TestExpiredKeysAreForgottenAndCleanedUp(t *testing.T) {
	key := "key-" + unique()
	a, b := "idema"+unique(), "idemb"+unique()
	require.Equal(t, http.StatusCreated, srv.Do(t, http.MethodPost, "/api/v1/users",
		map[string]string{"username": a, "email": a + "@x.io"}, "Idempotency-Key", key).Status)
	require.NoError(t, srv.DB.Exec("UPDATE idempotency_keys SET expires_at = now() - interval '1 second' WHERE key = ?", key).Error)
	resp := srv.Do(t, http.MethodPost, "/api/v1/users", map[string]string{"username": b, "email": b + "@x.io"}, "Idempotency-Key", key)
	require.Equal(t, http.StatusCreated, resp.Status, "%s", resp.Body)

	other := "key-" + unique()
	require.Equal(t, http.StatusCreated, srv.Do(t, http.MethodPost, "/api/v1/users",
		map[string]string{"username": "c" + b, "email": "c" + b + "@x.io"}, "Idempotency-Key", other).Status)
	require.NoError(t, srv.DB.Exec("UPDATE idempotency_keys SET expires_at = now() - interval '1 second' WHERE key = ?", other).Error)
	n, err := srv.App.Idempotency().Cleanup(context.Background())
	require.NoError(t, err)
	assert.GreaterOrEqual(t, n, int64(1))
	var left int64
	require.NoError(t, srv.DB.Raw("SELECT count(*) FROM idempotency_keys WHERE expires_at < now()").Scan(&left).Error)
	assert.Zero(t, left)
}

// Keys belong to a client: another token's same key is another request.
func TestKeysAreScopedToTheClient(t *testing.T) {
	s, err := testapp.Start("idem_owner", testapp.Options{Env: []string{"API_TOKENS=" + testapp.TokenName + ":" + testapp.Token + ",second:second-token-0123456789"}})
	require.NoError(t, err)
	defer func() { require.NoError(t, s.Close()) }()
	key := "shared-key"
	r1 := s.Do(t, http.MethodPost, "/api/v1/users", map[string]string{"username": "first1", "email": "first1@x.io"}, "Idempotency-Key", key)
	require.Equal(t, http.StatusCreated, r1.Status)
	r2 := s.Do(t, http.MethodPost, "/api/v1/users", map[string]string{"username": "second2", "email": "second2@x.io"},
		"Idempotency-Key", key, "Authorization", "Bearer second-token-0123456789")
	assert.Equal(t, http.StatusCreated, r2.Status, "%s", r2.Body)
	assert.Empty(t, r2.Header.Get("Idempotent-Replayed"))
}

// A 5xx is not stored: once the database answers again, the same key performs the write.
func TestFailedAttemptIsNotStored(t *testing.T) {
	s, err := testapp.Start("idem_5xx", testapp.Options{Env: []string{"USERSVC_DATABASE__STATEMENT_TIMEOUT=300ms"}})
	require.NoError(t, err)
	defer func() { require.NoError(t, s.Close()) }()
	id, blocker := deletedUserHeldByALock(t, s, "slow1")
	resp := s.Do(t, http.MethodPost, "/api/v1/users/"+id+"/restore", nil, "Idempotency-Key", "restore-1")
	require.Equal(t, http.StatusServiceUnavailable, resp.Status, "%s", resp.Body)
	require.NoError(t, blocker.Rollback().Error)

	resp = s.Do(t, http.MethodPost, "/api/v1/users/"+id+"/restore", nil, "Idempotency-Key", "restore-1")
	assert.Equal(t, http.StatusOK, resp.Status, "%s", resp.Body)
	assert.Empty(t, resp.Header.Get("Idempotent-Replayed"))
}

// An idempotent write shares the operation deadline: a handler statement stuck behind a lock
// ends with the deadline as a 503 (not a 500, not after the longer request timeout), and
// nothing is stored under the key.
func TestIdempotentWriteKeepsTheOperationDeadline(t *testing.T) {
	s, err := testapp.Start("idem_deadline", testapp.Options{Env: []string{
		"USERSVC_RESILIENCE__OPERATION_TIMEOUT=500ms", "USERSVC_DATABASE__STATEMENT_TIMEOUT=5s",
	}})
	require.NoError(t, err)
	defer func() { require.NoError(t, s.Close()) }()
	id, blocker := deletedUserHeldByALock(t, s, "stuck1")
	start := time.Now()
	resp := s.Do(t, http.MethodPost, "/api/v1/users/"+id+"/restore", nil, "Idempotency-Key", "restore-stuck")
	elapsed := time.Since(start)
	require.NoError(t, blocker.Rollback().Error)
	require.Equal(t, http.StatusServiceUnavailable, resp.Status, "%s", resp.Body)
	assert.Less(t, elapsed, 2*time.Second, "bounded by the 500ms operation deadline, not the 10s request timeout")
	var stored int64
	require.NoError(t, s.DB.Raw("SELECT count(*) FROM idempotency_keys WHERE key = 'restore-stuck'").Scan(&stored).Error)
	assert.Zero(t, stored)
}

// deletedUserHeldByALock registers and deletes a user on s, then locks its row in a
// transaction the caller must end: a restore of that user waits on the lock.
func deletedUserHeldByALock(t *testing.T, s *testapp.Server, username string) (string, *gorm.DB) {
	t.Helper()
	u := s.Do(t, http.MethodPost, "/api/v1/users", map[string]string{"username": username, "email": username + "@x.io"})
	require.Equal(t, http.StatusCreated, u.Status)
	var created user
	u.JSON(t, &created)
	require.Equal(t, http.StatusNoContent, s.Do(t, http.MethodDelete, "/api/v1/users/"+created.ID, nil).Status)
	blocker := s.DB.Begin()
	require.NoError(t, blocker.Exec("SELECT 1 FROM users WHERE id = ? FOR UPDATE", created.ID).Error)
	t.Cleanup(func() { blocker.Rollback() })
	return created.ID, blocker
}
