package faults_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// slack is what a timing assertion allows beyond the bound the configuration promises: the
// error path, the race detector and a busy 2-core machine.
const slack = 700 * time.Millisecond

// A statement that waits on a row lock past database.statement_timeout is cancelled by the
// server (57014): the PATCH is a 503 with Retry-After well within the operation budget, is not
// retried (a timeout is not contention), and changed nothing. Once the lock is gone the same
// PATCH succeeds.
func TestStatementTimeoutBehindRowLockIs503WithinBudget(t *testing.T) {
	a := startApp(t, "USERSVC_DATABASE__STATEMENT_TIMEOUT=300ms")
	id := a.createUser(t, "locked")
	_, release := a.blocker(t, id)

	r := a.mustCall(t, http.MethodPatch, "/api/v1/users/"+id, map[string]string{"full_name": "Blocked"})
	requireUnavailable(t, r, "PATCH behind a row lock")
	budget := a.Cfg.Resilience.OperationTimeout
	t.Logf("PATCH behind a lock: %d after %s (statement_timeout 300ms, budget %s)", r.resp.Status, r.elapsed, budget)
	assert.GreaterOrEqual(t, r.elapsed, 300*time.Millisecond, "it waited for the statement timeout")
	assert.Less(t, r.elapsed, budget+slack)
	assert.False(t, outcomeUnknown(r.resp), "nothing reached COMMIT")
	assert.EqualValues(t, 1, a.metric(t, "usersvc_db_attempts_total", `op="transact"`, `class="timeout"`),
		"one attempt, ended by the statement timeout, not retried")
	assert.Equal(t, 1, a.queryInt(t, "SELECT version FROM users WHERE id = $1", id), "nothing changed")

	release()
	r = a.mustCall(t, http.MethodPatch, "/api/v1/users/"+id, map[string]string{"full_name": "Unblocked"})
	require.Equal(t, http.StatusOK, r.resp.Status, "%s", r.resp.Body)
	assert.Equal(t, 2, a.queryInt(t, "SELECT version FROM users WHERE id = $1", id))
}

// Latency on the path to the database larger than the operation budget: reads and writes are
// 503 with Retry-After within the budget (no hang), and the write left nothing behind.
func TestLatencyAboveBudgetIs503WithinBudget(t *testing.T) {
	const budget = time.Second
	a := startApp(t, "USERSVC_RESILIENCE__OPERATION_TIMEOUT=1s")
	id := a.createUser(t, "slowpath")
	a.proxy.SetLatency(2 * time.Second)

	for i := 0; i < 2; i++ {
		r := a.mustCall(t, http.MethodGet, "/api/v1/users/"+id, nil)
		requireUnavailable(t, r, "GET through a 2s-latency proxy")
		t.Logf("GET with 2s latency, 1s budget: %d after %s", r.resp.Status, r.elapsed)
		assert.GreaterOrEqual(t, r.elapsed, budget/2)
		assert.Less(t, r.elapsed, budget+slack)
	}

	r := a.mustCall(t, http.MethodPatch, "/api/v1/users/"+id, map[string]string{"full_name": "Too Slow"})
	requireUnavailable(t, r, "PATCH through a 2s-latency proxy")
	t.Logf("PATCH with 2s latency, 1s budget: %d after %s (%s)", r.resp.Status, r.elapsed, detail(r.resp))
	assert.Less(t, r.elapsed, budget+slack)
	assert.False(t, outcomeUnknown(r.resp), "the deadline struck before COMMIT was sent")

	// Let the delayed chunks the proxy still holds drain, then check nothing landed.
	a.proxy.SetLatency(0)
	a.checkNoLeaks(t)
	assert.Equal(t, 1, a.queryInt(t, "SELECT version FROM users WHERE id = $1", id), "the PATCH did not land")
	r = a.mustCall(t, http.MethodGet, "/api/v1/users/"+id, nil)
	assert.Equal(t, http.StatusOK, r.resp.Status, "%s", r.resp.Body)
}
