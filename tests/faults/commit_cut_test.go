package faults_test

import (
	"fmt"
	"net/http"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"usersvc/tests/faultkit"
)

var cluster *faultkit.Cluster

func TestMain(m *testing.M) { os.Exit(faultkit.Main(m, &cluster)) }

// Why a commit cut is the dangerous fault, and why the service survives it.
//
// shared/README.md records that pgx v5.9+ (we use v5.10.0) can report a connection reset that
// follows a sent statement as "conn closed" with pgconn.SafeToRetry(err) == true even though
// the server executed the statement; database/sql turns that into driver.ErrBadConn and silently
// re-runs the statement on a new connection. Measured here: an autocommit INSERT returned nil
// and left two rows (also GORM Create with SkipDefaultTransaction + PreferSimpleProtocol).
//
// The service never writes in autocommit. Every write runs in db.Runner.Transact's explicit
// BEGIN … COMMIT (GORM's default transaction is on, too): database/sql never re-runs a
// statement of an open *sql.Tx on another connection (ErrBadConn inside a Tx is returned, and
// only BeginTx itself is retried, which is harmless), and a COMMIT whose answer is lost
// surfaces as an error from Tx.Commit. The Runner reports that as ErrOutcomeUnknown — a 503
// "outcome unknown", never retried, never a 2xx. The tests below cut the connection right
// after the server answered COMMIT (the proxy swallows the answer and resets) and prove it:
// the client is told the outcome is unknown, and the write is in the database exactly once.

// A registration without an Idempotency-Key whose COMMIT answer is lost: 503 "outcome
// unknown", and the row (and its one "created" event) exists exactly once — no blind re-run.
func TestCommitCutWithoutKeyRegister(t *testing.T) {
	a := startApp(t)
	a.proxy.CutAfterCommit(1)
	r := a.mustCall(t, http.MethodPost, "/api/v1/users", registration("cutreg"))
	requireUnavailable(t, r, "POST /users with its COMMIT cut")
	assert.True(t, outcomeUnknown(r.resp), "detail: %s", detail(r.resp))
	require.EqualValues(t, 1, a.proxy.CutCommits(), "the proxy cut a COMMIT the server had answered")

	assert.Equal(t, 1, a.queryInt(t, "SELECT count(*) FROM users WHERE username = 'cutreg'"), "committed exactly once")
	assert.Equal(t, 1, a.queryInt(t, `SELECT count(*) FROM user_events e JOIN users u ON u.id = e.user_id
		WHERE u.username = 'cutreg' AND e.action = 'created'`))
	// The client may look the user up: it is there, once.
	r = a.mustCall(t, http.MethodGet, "/api/v1/users?username=cutreg", nil)
	require.Equal(t, http.StatusOK, r.resp.Status, "%s", r.resp.Body)
	var page struct{ Items []userOut }
	r.resp.JSON(t, &page)
	assert.Len(t, page.Items, 1)
}

// A PATCH and a DELETE whose COMMIT answer is lost: 503 "outcome unknown", and the change is
// applied exactly once (version +1, one event), not twice.
func TestCommitCutWithoutKeyUpdateAndDelete(t *testing.T) {
	a := startApp(t)
	patched := a.createUser(t, "cutpatch")
	deleted := a.createUser(t, "cutdelete")

	a.proxy.CutAfterCommit(1)
	r := a.mustCall(t, http.MethodPatch, "/api/v1/users/"+patched, map[string]string{"full_name": "After Cut"})
	requireUnavailable(t, r, "PATCH with its COMMIT cut")
	assert.True(t, outcomeUnknown(r.resp), "detail: %s", detail(r.resp))
	require.EqualValues(t, 1, a.proxy.CutCommits())
	assert.Equal(t, 1, a.queryInt(t, "SELECT count(*) FROM users WHERE id = $1 AND version = 2 AND full_name = 'After Cut'", patched),
		"the update committed once: version 2, not 3")
	assert.Equal(t, 1, a.queryInt(t, "SELECT count(*) FROM user_events WHERE user_id = $1 AND action = 'updated'", patched))

	a.proxy.CutAfterCommit(1)
	r = a.mustCall(t, http.MethodDelete, "/api/v1/users/"+deleted, nil)
	requireUnavailable(t, r, "DELETE with its COMMIT cut")
	assert.True(t, outcomeUnknown(r.resp), "detail: %s", detail(r.resp))
	require.EqualValues(t, 2, a.proxy.CutCommits())
	assert.Equal(t, 1, a.queryInt(t, "SELECT count(*) FROM users WHERE id = $1 AND version = 2 AND deleted_at IS NOT NULL", deleted),
		"the delete committed once")
	assert.Equal(t, 1, a.queryInt(t, "SELECT count(*) FROM user_events WHERE user_id = $1 AND action = 'deleted'", deleted))
	// Retrying the DELETE now is answered from the database's truth: already gone.
	r = a.mustCall(t, http.MethodDelete, "/api/v1/users/"+deleted, nil)
	assert.Equal(t, http.StatusNotFound, r.resp.Status, "%s", r.resp.Body)
}

// A connection reset right after the server committed a registration with an
// Idempotency-Key: the client is told the outcome is unknown (never 201, never a blind retry),
// the row exists once, and a retry with the same key returns the original 201.
func TestCommitCutWithIdempotencyKey(t *testing.T) {
	a := startApp(t)
	a.proxy.CutAfterCommit(1)
	r := a.mustCall(t, http.MethodPost, "/api/v1/users", registration("cut1"), "Idempotency-Key", "k1")
	requireUnavailable(t, r, "POST /users with a key, COMMIT cut")
	assert.True(t, outcomeUnknown(r.resp), "detail: %s", detail(r.resp))
	assert.Less(t, r.elapsed, a.Cfg.Resilience.OperationTimeout)
	require.EqualValues(t, 1, a.proxy.CutCommits(), "the proxy cut a committed COMMIT")
	assert.Equal(t, 1, a.queryInt(t, "SELECT count(*) FROM users WHERE username = 'cut1'"), "committed exactly once")

	r = a.mustCall(t, http.MethodPost, "/api/v1/users", registration("cut1"), "Idempotency-Key", "k1")
	require.Equal(t, http.StatusCreated, r.resp.Status, "%s", r.resp.Body)
	assert.Equal(t, "true", r.resp.Header.Get("Idempotent-Replayed"))
	var u userOut
	r.resp.JSON(t, &u)
	assert.Equal(t, 1, a.queryInt(t, "SELECT count(*) FROM users WHERE username = 'cut1' AND id = $1", u.ID),
		"the replay names the stored row")
	assert.Equal(t, 1, a.queryInt(t, "SELECT count(*) FROM users WHERE username = 'cut1'"))
}

// A batch with an Idempotency-Key whose COMMIT answer is lost: 503 "outcome unknown"; the
// retry with the same key replays the 201 with the very items stored, and each row of the
// batch exists exactly once.
func TestCommitCutBatchWithKey(t *testing.T) {
	a := startApp(t)
	names := []string{"batch_c", "batch_a", "batch_b"}
	body := map[string]any{"users": []map[string]string{registration(names[0]), registration(names[1]), registration(names[2])}}

	a.proxy.CutAfterCommit(1)
	r := a.mustCall(t, http.MethodPost, "/api/v1/users/batch", body, "Idempotency-Key", "batch-key-1")
	requireUnavailable(t, r, "POST /users/batch with its COMMIT cut")
	assert.True(t, outcomeUnknown(r.resp), "detail: %s", detail(r.resp))
	require.EqualValues(t, 1, a.proxy.CutCommits())
	assert.Equal(t, 3, a.queryInt(t, "SELECT count(*) FROM users WHERE username LIKE 'batch\\_%'"), "the batch committed")

	r = a.mustCall(t, http.MethodPost, "/api/v1/users/batch", body, "Idempotency-Key", "batch-key-1")
	require.Equal(t, http.StatusCreated, r.resp.Status, "%s", r.resp.Body)
	assert.Equal(t, "true", r.resp.Header.Get("Idempotent-Replayed"))
	var page struct{ Items []userOut }
	r.resp.JSON(t, &page)
	require.Len(t, page.Items, 3)
	for i, item := range page.Items {
		assert.Equal(t, names[i], item.Username, "items in request order")
		assert.Equal(t, 1, a.queryInt(t, "SELECT count(*) FROM users WHERE id = $1 AND username = $2", item.ID, names[i]),
			"replayed item %d is the stored row", i)
	}
	assert.Equal(t, 3, a.queryInt(t, "SELECT count(*) FROM users WHERE username LIKE 'batch\\_%'"), "nothing written twice")
	assert.Equal(t, 3, a.queryInt(t, `SELECT count(*) FROM user_events e JOIN users u ON u.id = e.user_id
		WHERE u.username LIKE 'batch\_%' AND e.action = 'created'`))

	again := a.mustCall(t, http.MethodPost, "/api/v1/users/batch", body, "Idempotency-Key", "batch-key-1")
	require.Equal(t, http.StatusCreated, again.resp.Status)
	assert.Equal(t, string(r.resp.Body), string(again.resp.Body), "every replay is the same response")
}

// Lost COMMITs on a healthy database do not open the breaker: they are counted neither as
// successes nor as failures, so reads and writes carry on and /readyz stays 200.
func TestLostCommitsDoNotOpenTheBreaker(t *testing.T) {
	a := startApp(t)
	existing := a.createUser(t, "survivor")
	threshold := int(a.Cfg.Resilience.Breaker.FailureThreshold)
	a.proxy.CutAfterCommit(threshold + 2)
	for i := 0; i < threshold+2; i++ {
		r := a.mustCall(t, http.MethodPost, "/api/v1/users", registration(fmt.Sprintf("lost%d", i)))
		requireUnavailable(t, r, "POST /users with its COMMIT cut")
		require.True(t, outcomeUnknown(r.resp), "detail: %s", detail(r.resp))
	}
	assert.Zero(t, a.breakerState(t), "breaker still closed")
	assert.Equal(t, http.StatusOK, a.mustCall(t, http.MethodGet, "/api/v1/users/"+existing, nil).resp.Status)
	assert.Equal(t, http.StatusOK, a.mustCall(t, http.MethodGet, "/readyz", nil).resp.Status)
}
