package restart_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"usersvc/tests/testapp"
)

// The app runs as a role with CONNECTION LIMIT 2 and a pool of 8, and 20 requests arrive at
// once (10 registrations, 10 reads). Connections beyond the limit fail with 53300 (inside a
// pgconn.ConnectError): classified unavailable, retried a bounded number of times, then a 503.
// Every answer is 200/201 or 503 with Retry-After — never a 500 — and all of them come back
// within a few seconds. The server never saw more than 2 connections of ours, and every
// acknowledged registration is stored once.
func TestTooManyConnections(t *testing.T) {
	const (
		connLimit   = 2
		concurrent  = 20
		maxAttempts = 3 // resilience.retry.max_attempts
	)
	adminExec(t, "postgres", fmt.Sprintf("CREATE ROLE limited LOGIN CONNECTION LIMIT %d", connLimit))
	t.Cleanup(func() { adminExec(t, "postgres", "DROP ROLE limited") }) // registered first: runs after the database is dropped
	database := newDatabase(t)
	// Migrations run as postgres; then the role gets the rights the app needs on what they made.
	s := startApp(t, database, cluster.URL("limited", database), testapp.Options{
		MigrateURL: cluster.URL("postgres", database),
		Env:        []string{"USERSVC_DATABASE__MAX_OPEN_CONNS=8", "USERSVC_DATABASE__MAX_IDLE_CONNS=8"},
	})
	adminExec(t, database, "GRANT ALL ON ALL TABLES IN SCHEMA public TO limited")
	adminExec(t, database, "GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO limited")
	admin := adminConn(t, database)
	seed := register(t, s, "seed")
	before := mustScrape(t, s)

	// Watch how many connections of ours the server holds while the burst runs.
	peak := 0
	watchStop, watchDone := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(watchDone)
		for {
			select {
			case <-watchStop:
				return
			default:
			}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			var n int
			if admin.QueryRow(ctx, "SELECT count(*) FROM pg_stat_activity WHERE usename = 'limited'").Scan(&n) == nil {
				peak = max(peak, n)
			}
			cancel()
			time.Sleep(2 * time.Millisecond)
		}
	}()

	l := newLedger()
	results := make([]result, concurrent)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range concurrent {
		wg.Go(func() {
			<-start
			if i%2 == 0 {
				results[i] = l.create(s, fmt.Sprintf("limit_%d", i))
			} else {
				results[i] = send(s, http.MethodGet, "/api/v1/users/"+seed.ID, nil)
			}
		})
	}
	began := time.Now()
	close(start)
	wg.Wait()
	burst := time.Since(began)
	close(watchStop)
	<-watchDone

	counts := map[string]int{}
	slowest := time.Duration(0)
	for _, r := range results {
		slowest = max(slowest, r.Elapsed)
		switch r.Status {
		case http.StatusOK, http.StatusCreated:
			counts[fmt.Sprint(r.Status)]++
		case http.StatusServiceUnavailable:
			counts["503"]++
			assert.NotEmpty(t, r.RetryAfter, "%s", r)
			if strings.Contains(r.Detail, outcomeUnknown) {
				counts["503 outcome unknown"]++
			}
		default:
			t.Errorf("%s; want 200/201 or 503", r)
		}
		assert.Less(t, r.Elapsed, 3*time.Second, "bounded retries: %s", r)
	}
	assert.Less(t, burst, 5*time.Second, "the whole burst is over within a few seconds")
	assert.LessOrEqual(t, peak, connLimit, "the server never let the role hold more connections than its limit")

	after := mustScrape(t, s)
	attempts := after.sum(mAttempts) - before.sum(mAttempts)
	unavailable := after.sum(mAttempts, "class", "unavailable") - before.sum(mAttempts, "class", "unavailable")
	assert.LessOrEqual(t, attempts, float64(concurrent*maxAttempts), "retries are bounded: at most max_attempts per request")
	t.Logf("connection limit %d, pool 8, %d concurrent requests: %v in %s (slowest %s); attempts %.0f, of them unavailable (53300) %.0f; "+
		"peak server connections %d; breaker state %.0f, transitions %v",
		connLimit, concurrent, counts, burst.Round(time.Millisecond), slowest.Round(time.Millisecond), attempts, unavailable,
		peak, after.sum(mBreakerState), transitions(after))

	l.verify(t, admin, "limit_")
}
