package faults_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A client that gives up stops its query on the server, not only in the app.
//
// The chain: the client closes its TCP connection; net/http's server notices (for HTTP/1.1 a
// background read runs once the handler has consumed the body, and EOF on it cancels the
// request's context — "the context is canceled when the client's connection closes"); Echo
// hands that context to the handler and ContextTimeout derives the request deadline from it;
// the Runner's budget derives from that, and pgx watches it. pgx v5's default context watcher
// (DeadlineContextWatcherHandler) sets a past deadline on the socket, so the blocked read
// returns at once; the connection is then closed asynchronously (pgconn.asyncClose), which
// first sends a CancelRequest on a new connection and then Terminate. The server cancels the
// statement and the backend ends. Without that, a backend waiting on a lock would keep
// waiting (PostgreSQL does not notice a vanished client while it waits, unless
// client_connection_check_interval is set).
//
// Here a PATCH waits on a row lock held by a blocker with a statement timeout far away; the
// client cancels; pg_stat_activity on the cluster must show our backend no longer waiting on
// the lock while the blocker still holds it.
func TestCallerCancelStopsTheQueryOnTheServer(t *testing.T) {
	a := startApp(t,
		"USERSVC_DATABASE__STATEMENT_TIMEOUT=30s",
		"USERSVC_RESILIENCE__OPERATION_TIMEOUT=30s",
		"USERSVC_HTTP__REQUEST_TIMEOUT=25s",
	)
	id := a.createUser(t, "cancelme")
	blockerTx, release := a.blocker(t, id)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		resp, err := a.Request(ctx, http.MethodPatch, "/api/v1/users/"+id, map[string]string{"full_name": "Never"})
		if err == nil {
			err = errors.New("the PATCH returned " + http.StatusText(resp.Status) + " instead of being cancelled")
		}
		done <- err
	}()

	// Our backend, waiting on the blocker's row lock.
	var pid int
	requirePoll(t, 10*time.Second, "the PATCH's backend to wait on the row lock", func() bool {
		qctx, qcancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer qcancel()
		err := a.direct.QueryRow(qctx, `SELECT pid FROM pg_stat_activity
			WHERE datname = $1 AND application_name = $2 AND wait_event_type = 'Lock'`, a.dbName, ourApp).Scan(&pid)
		return err == nil
	})

	cancelled := time.Now()
	cancel()
	select {
	case err := <-done:
		require.ErrorIs(t, err, context.Canceled)
	case <-time.After(10 * time.Second):
		t.Fatal("the client's request did not return after its context was cancelled")
	}

	var gone time.Duration
	requirePoll(t, 5*time.Second, "the backend to stop waiting on the lock", func() bool {
		n := a.queryInt(t, `SELECT count(*) FROM pg_stat_activity WHERE pid = $1 AND wait_event_type = 'Lock'`, pid)
		gone = time.Since(cancelled)
		return n == 0
	})
	assert.Equal(t, 0, a.queryInt(t, "SELECT count(*) FROM pg_locks WHERE pid = $1 AND NOT granted", pid),
		"no lock request of ours left queued")
	t.Logf("backend %d stopped waiting %s after the client cancelled (backend still exists: %v)", pid, gone,
		a.queryInt(t, "SELECT count(*) FROM pg_stat_activity WHERE pid = $1", pid) == 1)

	// All that happened while the blocker still held the lock.
	_, err := blockerTx.Exec(context.Background(), "SELECT 1")
	require.NoError(t, err, "the blocker's transaction is still open")
	release()

	assert.Equal(t, 1, a.queryInt(t, "SELECT version FROM users WHERE id = $1", id), "the cancelled PATCH changed nothing")
	assert.Zero(t, a.breakerState(t), "a caller who went away is not a database failure")
	r := a.mustCall(t, http.MethodGet, "/api/v1/users/"+id, nil)
	assert.Equal(t, http.StatusOK, r.resp.Status)
}
