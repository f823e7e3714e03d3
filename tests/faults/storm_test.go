package faults_test

import (
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// A retry storm: the database refuses every connection and 100 clients arrive at once. Each
// would be worth resilience.retry.max_attempts attempts on its own; the storm must cost the
// database about one attempt per client, far below clients × max_attempts.
//
// The bound asserted, from the configuration: every client that arrives while the breaker is
// still closed makes its first attempt (at most `clients`); retries are made only while the
// shared retry budget has more than half its budget_tokens left (each failed attempt takes one)
// and the breaker is closed, so there are fewer than budget_tokens retries in all. With the
// defaults: 100 + 20 = 120, against 300 without. The sessions the database side sees may exceed
// the Runner's attempts by up to max_open_conns: database/sql replaces a dead pooled connection
// with a new one inside the same attempt.
//
// Two counts are checked: the Runner's own attempts (usersvc_db_attempts_total{op="read"}) and
// the sessions the database side saw (connections the proxy accepted, minus the CancelRequest
// connections pgx opens after every failed connection, which carry no work).
func TestRetryStormIsBounded(t *testing.T) {
	const clients = 100
	a := startApp(t)
	id := a.createUser(t, "storm")
	cfg := a.Cfg.Resilience

	a.proxy.Refuse(true)
	a.proxy.ResetAll() // the pooled connections go too
	acceptedBefore, cancelsBefore := a.proxy.Accepted(), a.proxy.Cancels()
	attemptsBefore := a.metric(t, "usersvc_db_attempts_total", `op="read"`)

	results := make([]result, clients)
	var wg sync.WaitGroup
	release := make(chan struct{})
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-release
			results[i] = a.call(http.MethodGet, "/api/v1/users/"+id, nil)
		}()
	}
	start := time.Now()
	close(release)
	wg.Wait()
	wall := time.Since(start)
	accepted := a.proxy.Accepted() - acceptedBefore
	cancels := a.proxy.Cancels() - cancelsBefore
	sessions := accepted - cancels
	attempts := int64(a.metric(t, "usersvc_db_attempts_total", `op="read"`) - attemptsBefore)

	counts := map[int]int{}
	for i, r := range results {
		if !assert.NoError(t, r.err, "client %d", i) {
			continue
		}
		counts[r.resp.Status]++
		if r.resp.Status != http.StatusServiceUnavailable {
			t.Errorf("client %d: %d %s", i, r.resp.Status, r.resp.Body)
		}
		assert.NotEmpty(t, r.resp.Header.Get("Retry-After"), "client %d", i)
	}
	bound := int64(clients) + int64(cfg.Retry.BudgetTokens)
	sessionBound := bound + int64(a.Cfg.Database.MaxOpenConns)
	t.Logf("%d clients against a refusing database, in %s: Runner attempts %d, sessions the database side saw %d "+
		"(%d connections accepted, %d of them CancelRequests); without a breaker: %d; bound asserted: %d; "+
		"operations rejected by the open breaker: %v; statuses %v",
		clients, wall, attempts, sessions, accepted, cancels, clients*cfg.Retry.MaxAttempts, bound,
		a.metric(t, "usersvc_db_operations_total", `op="read"`, `outcome="rejected_open"`), counts)
	assert.LessOrEqual(t, attempts, bound, "the breaker bounds the Runner's attempts")
	assert.LessOrEqual(t, sessions, sessionBound, "the sessions the database sees stay bounded too")
	assert.EqualValues(t, 2, a.breakerState(t), "the storm opened the breaker")
}
