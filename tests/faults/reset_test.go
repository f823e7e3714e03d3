package faults_test

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Every connection reset, again and again, while clients register users (no Idempotency-Key)
// and others read. Jepsen "set" check afterwards, straight on the cluster:
//   - no 500, ever;
//   - every 201's id is stored exactly once, under its username, with one "created" event;
//   - a 503 "outcome unknown" may or may not have left its row, but at most once;
//   - any other 503 left nothing: the Runner retries only what was lost before COMMIT
//     (PostgreSQL rolled it back), so a plain 503 means no attempt committed;
//   - reads are 200 or 503;
//   - the breaker, with its default settings, never opens: a reset connection is a lost
//     connection (a new one works), and a lost COMMIT is not counted either.
func TestResetEveryConnectionDuringWrites(t *testing.T) {
	const (
		writers  = 4
		readers  = 2
		duration = 2 * time.Second
		every    = 200 * time.Millisecond
	)
	a := startApp(t)
	known := a.createUser(t, "reader_target")

	ctx, stop := context.WithTimeout(context.Background(), duration)
	defer stop()
	type write struct {
		username string
		res      result
	}
	var (
		mu     sync.Mutex
		writes []write
		reads  = map[int]int{}
	)
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ctx.Err() == nil; i++ {
				name := fmt.Sprintf("w%d_%04d", w, i)
				r := a.call(http.MethodPost, "/api/v1/users", registration(name))
				mu.Lock()
				writes = append(writes, write{name, r})
				mu.Unlock()
			}
		}()
	}
	for rd := 0; rd < readers; rd++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ctx.Err() == nil; i++ {
				path := "/api/v1/users/" + known
				if i%2 == 1 {
					path = "/api/v1/users?limit=5"
				}
				r := a.call(http.MethodGet, path, nil)
				mu.Lock()
				if r.err != nil {
					t.Errorf("GET %s: %v", path, r.err)
				} else {
					reads[r.resp.Status]++
					if r.resp.Status != http.StatusOK && r.resp.Status != http.StatusServiceUnavailable {
						t.Errorf("GET %s: %d %s", path, r.resp.Status, r.resp.Body)
					}
				}
				mu.Unlock()
			}
		}()
	}
	resets := 0
	tick := time.NewTicker(every)
	for done := false; !done; {
		select {
		case <-tick.C:
			a.proxy.ResetAll()
			resets++
		case <-ctx.Done():
			done = true
		}
	}
	tick.Stop()
	wg.Wait()

	// The set check.
	stats := map[string]int{}
	for _, w := range writes {
		require.NoError(t, w.res.err, "POST %s", w.username)
		r := w.res.resp
		stored := a.queryInt(t, "SELECT count(*) FROM users WHERE username = $1", w.username)
		switch {
		case r.Status == http.StatusCreated:
			stats["201"]++
			var u userOut
			r.JSON(t, &u)
			assert.Equal(t, 1, stored, "%s: acknowledged, stored %d times", w.username, stored)
			assert.Equal(t, 1, a.queryInt(t, "SELECT count(*) FROM users WHERE id = $1 AND username = $2", u.ID, w.username),
				"%s: the acknowledged id %s is the stored row", w.username, u.ID)
		case outcomeUnknown(r):
			stats["503 outcome unknown, stored"] += stored
			stats["503 outcome unknown, not stored"] += 1 - stored
			assert.LessOrEqual(t, stored, 1, "%s: outcome unknown, stored %d times", w.username, stored)
		case r.Status == http.StatusServiceUnavailable:
			stats["503"]++
			assert.NotEmpty(t, r.Header.Get("Retry-After"))
			assert.Equal(t, 0, stored, "%s: plain 503 (%s), yet stored", w.username, detail(r))
		default:
			t.Errorf("%s: %d %s", w.username, r.Status, r.Body)
		}
	}
	assert.Equal(t, 0, a.queryInt(t, `SELECT count(*) FROM (SELECT lower(username) FROM users
		GROUP BY 1 HAVING count(*) > 1) d`), "no username stored twice")
	assert.Equal(t, 0, a.queryInt(t, `SELECT count(*) FROM users u
		WHERE (SELECT count(*) FROM user_events e WHERE e.user_id = u.id AND e.action = 'created') <> 1`),
		"every stored user has exactly one created event")
	assert.Equal(t, len(writes)+1-stats["503"]-stats["503 outcome unknown, not stored"], a.queryInt(t, "SELECT count(*) FROM users"),
		"nothing stored that no request wrote")
	hit := a.metric(t, "usersvc_db_attempts_total", `op="transact"`, `class="connection_lost"`)
	opened := a.metric(t, "usersvc_db_breaker_transitions_total", `to="open"`)
	t.Logf("%d resets in %s; %d writes: %v; write attempts that lost their connection: %v; reads: %v; "+
		"connections found lost: %v; breaker transitions to open: %v", resets, duration, len(writes), stats, hit, reads,
		a.metric(t, "usersvc_db_connections_lost_total"), opened)
	assert.Positive(t, stats["201"], "some writes got through")
	assert.Positive(t, hit, "the resets hit writes in flight")
	assert.Zero(t, opened, "lost connections do not open the breaker")
}
