package faults_test

import (
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// Pool starvation: two connections, a slow path to the database, forty clients at once.
// Requests that cannot get a connection within the operation budget are 503 with
// Retry-After (database/sql waits for a free connection only as long as the context allows),
// none is a 500 and none hangs; afterwards no connection is left in use.
func TestPoolStarvationIs503WithinBudget(t *testing.T) {
	const clients = 40
	a := startApp(t,
		"USERSVC_DATABASE__MAX_OPEN_CONNS=2",
		"USERSVC_DATABASE__MAX_IDLE_CONNS=2",
		"USERSVC_RESILIENCE__OPERATION_TIMEOUT=1s",
	)
	budget := a.Cfg.Resilience.OperationTimeout
	id := a.createUser(t, "starved")
	// Two warm connections with the statement prepared, so one GET is one round trip.
	var warm sync.WaitGroup
	for i := 0; i < 2; i++ {
		warm.Add(1)
		go func() { defer warm.Done(); a.call(http.MethodGet, "/api/v1/users/"+id, nil) }()
	}
	warm.Wait()
	a.proxy.SetLatency(400 * time.Millisecond) // ≈ 800 ms per round trip

	results := make([]result, clients)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range results {
		wg.Add(1)
		go func() { defer wg.Done(); results[i] = a.call(http.MethodGet, "/api/v1/users/"+id, nil) }()
	}
	wg.Wait()
	wall := time.Since(start)

	counts := map[int]int{}
	var slowest time.Duration
	for i, r := range results {
		if !assert.NoError(t, r.err, "client %d", i) {
			continue
		}
		counts[r.resp.Status]++
		slowest = max(slowest, r.elapsed)
		switch r.resp.Status {
		case http.StatusOK:
		case http.StatusServiceUnavailable:
			assert.NotEmpty(t, r.resp.Header.Get("Retry-After"), "client %d: 503 without Retry-After", i)
		default:
			t.Errorf("client %d: %d %s", i, r.resp.Status, r.resp.Body)
		}
		assert.Less(t, r.elapsed, budget+slack+500*time.Millisecond, "client %d waited past the budget", i)
	}
	t.Logf("%d clients, pool of 2, 400ms latency, budget %s: %v in %s (slowest %s); read outcomes: ok %v, "+
		"timed out %v, rejected by the open breaker %v; pool waits %v; breaker state %v",
		clients, budget, counts, wall, slowest,
		a.metric(t, "usersvc_db_operations_total", `op="read"`, `outcome="ok"`),
		a.metric(t, "usersvc_db_operations_total", `op="read"`, `outcome="unavailable"`),
		a.metric(t, "usersvc_db_operations_total", `op="read"`, `outcome="rejected_open"`),
		a.metric(t, "go_sql_wait_count_total", `db_name="usersvc"`), a.breakerState(t))
	assert.Less(t, wall, 5*time.Second)
	assert.Positive(t, counts[http.StatusServiceUnavailable], "the pool was starved")
}
