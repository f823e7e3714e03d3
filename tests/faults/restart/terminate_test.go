package restart_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"usersvc/tests/testapp"
)

// Every backend of ours is terminated (pg_terminate_backend, FATAL 57P01) in 13 sweeps while
// four clients run: two register users, two read users by id and list them. This is what a
// failover, a pooler restart or an admin's sweep does to the pool, on a database that stays
// up:
//
//   - every read answers 200. A read whose connection is killed under it is retried, and the
//     retry is not given another dead connection: once a loss is seen, the pool pings the
//     connections idle since before reusing them (db's lossWatch). So a read fails only if
//     all three of its attempts are each killed mid-statement, by three different sweeps.
//   - writes lost before COMMIT are rolled back by PostgreSQL and retried, so they answer
//     201, or 503 once retries run out — never 500; a lost COMMIT is "outcome unknown".
//   - the breaker never opens: a lost connection is not a database that cannot be reached
//     (before, lost connections counted, and five failed calls opened it on this healthy
//     database and held every request back), and lost connections do not drain the retry
//     budget either.
//   - then the database: every 201 stored exactly once, a plain 503 left nothing, an
//     "outcome unknown" 503 left at most one row.
//
// Sweeps are paced by the clients' progress as well as by the clock: at least 150ms and 40
// answered requests apart. On an idle machine the clock decides (about 100 requests are
// answered in 150ms); on one busy with other tests, where an attempt can take 100ms (seen:
// 126 reads in 2s, slowest 286ms), a fixed period let three sweeps land on one read's three
// attempts (1 read of 126 failed, in 1 run of 10 under load). Paced by progress, that would
// take the three other clients answering 80 requests while the read made its two retries.
//
// The summary line names the outcomes, the connections found lost and any breaker
// transitions.
func TestEveryBackendTerminatedDuringLoad(t *testing.T) {
	const (
		sweeps      = 13
		sweepEvery  = 150 * time.Millisecond
		sweepAfter  = 40 // requests answered since the previous sweep
		maxDuration = 60 * time.Second
	)
	database := newDatabase(t)
	s := startApp(t, database, cluster.URL("postgres", database), testapp.Options{})
	admin := adminConn(t, database)

	var ids []string
	for i := range 10 {
		ids = append(ids, register(t, s, fmt.Sprintf("seed%d", i)).ID)
	}
	before := mustScrape(t, s)

	stop := make(chan struct{})
	var answered, terminated atomic.Int64
	killerDone := make(chan error, 1)
	began := time.Now()
	go func() { // the fault: every backend of ours, again and again
		defer close(stop)
		for range sweeps {
			last, since := time.Now(), answered.Load()
			for time.Since(last) < sweepEvery || answered.Load()-since < sweepAfter {
				if time.Since(began) > maxDuration {
					killerDone <- fmt.Errorf("the clients answered under %d requests per sweep for %s", sweepAfter, maxDuration)
					return
				}
				time.Sleep(time.Millisecond)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			var n int64
			err := admin.QueryRow(ctx, `SELECT count(*) FILTER (WHERE pg_terminate_backend(pid))
				FROM pg_stat_activity WHERE application_name = $1 AND datname = $2`, ourApp, database).Scan(&n)
			cancel()
			if err != nil {
				killerDone <- err
				return
			}
			terminated.Add(n)
		}
		killerDone <- nil
	}()

	l := newLedger()
	var mu sync.Mutex
	var reads, writes []result
	var wg sync.WaitGroup
	for w := range 2 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				r := l.create(s, fmt.Sprintf("term_w%d_%d", w, i))
				answered.Add(1)
				mu.Lock()
				writes = append(writes, r)
				mu.Unlock()
			}
		})
	}
	for rd := range 2 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				path := "/api/v1/users/" + ids[i%len(ids)]
				if rd == 1 && i%2 == 1 {
					path = "/api/v1/users?limit=20"
				}
				r := send(s, http.MethodGet, path, nil)
				answered.Add(1)
				mu.Lock()
				reads = append(reads, r)
				mu.Unlock()
			}
		})
	}
	wg.Wait() // until the killer's last sweep
	require.NoError(t, <-killerDone)
	took := time.Since(began)

	require.Positive(t, terminated.Load(), "backends of ours were terminated")
	require.NotEmpty(t, reads)
	var maxRead, maxWrite time.Duration
	readsFailed := offences{rule: "a read during terminations answers 200 (retried on a lost connection)"}
	for _, r := range reads {
		maxRead = max(maxRead, r.Elapsed)
		if r.Status != http.StatusOK {
			readsFailed.add(r)
		}
	}
	writesWrong := offences{rule: "a write during terminations answers 201 or 503 with Retry-After"}
	counts := map[string]int{}
	for _, r := range writes {
		maxWrite = max(maxWrite, r.Elapsed)
		switch {
		case r.Status == http.StatusCreated:
			counts["201"]++
		case r.Status == http.StatusServiceUnavailable && r.RetryAfter == "":
			writesWrong.add(r)
		case r.Status == http.StatusServiceUnavailable && strings.Contains(r.Detail, outcomeUnknown):
			counts["503 outcome unknown"]++
		case r.Status == http.StatusServiceUnavailable && strings.Contains(r.Detail, heldBack):
			counts["503 breaker open"]++
		case r.Status == http.StatusServiceUnavailable:
			counts["503"]++
		default:
			writesWrong.add(r)
		}
	}
	after := mustScrape(t, s)
	lostAttempts := after.sum(mAttempts, "class", "connection_lost") - before.sum(mAttempts, "class", "connection_lost")
	lostConns := after.sum(mConnectionsLost) - before.sum(mConnectionsLost)
	opened := after.sum(mBreakerTransitions, "to", "open") - before.sum(mBreakerTransitions, "to", "open")
	summary := fmt.Sprintf("terminations: %d sweeps in %s, %d backends terminated; %d reads (%d not 200, slowest %s), "+
		"writes %v (slowest %s); connections found lost %.0f, attempts that lost theirs %.0f; operations by outcome %v; "+
		"breaker transitions %v",
		sweeps, took.Round(time.Millisecond), terminated.Load(), len(reads), readsFailed.count, maxRead.Round(time.Millisecond), counts,
		maxWrite.Round(time.Millisecond), lostConns, lostAttempts, outcomes(after, before), transitions(after))
	t.Log(summary)
	readsFailed.check(t, summary)
	writesWrong.check(t, summary)
	assert.Positive(t, counts["201"], "writes got through between the kills")
	assert.Positive(t, lostAttempts, "attempts did meet terminated connections")
	assert.Zero(t, opened, "lost connections on a healthy database do not open the breaker: %s", summary)

	l.verify(t, admin, "term_")
}
