package faults_test

import (
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"usersvc/tests/faultkit"
)

// An unreachable database, with the default budget and breaker: every request is a 503 with
// Retry-After in under 3 s; failure_threshold failures open the breaker (state 2 on /metrics,
// /readyz 503), after which requests are rejected in milliseconds without touching the
// database; once the path heals, open_timeout later the breaker lets probes through, they
// succeed, it closes and /readyz is 200 again — without restarting anything.
//
// "In milliseconds" is timed on the client's clock less any stall of the whole test process
// (client and server share it; see faultkit.StallWatch): on a machine busy with other tests a
// stall of the process can hold a rejection far longer than the service took.
func TestUnreachableDatabaseOpensAndClosesTheBreaker(t *testing.T) {
	faults := []struct {
		name   string
		inject func(a *faultApp)
		heal   func(a *faultApp)
	}{
		{"blackhole", // connections hang: nothing is forwarded either way
			func(a *faultApp) { a.proxy.Blackhole(true) },
			func(a *faultApp) { a.proxy.Blackhole(false) }},
		{"refuse", // new connections are reset at once, and the pooled ones are reset too
			func(a *faultApp) { a.proxy.Refuse(true); a.proxy.ResetAll() },
			func(a *faultApp) { a.proxy.Refuse(false) }},
	}
	for _, f := range faults {
		t.Run(f.name, func(t *testing.T) {
			a := startApp(t)
			cfg := a.Cfg.Resilience.Breaker
			stalls := faultkit.WatchStalls()
			defer stalls.Stop()
			id := a.createUser(t, "reach_"+f.name)
			require.Zero(t, a.breakerState(t))

			f.inject(a)
			// failure_threshold failing requests at once (one breaker outcome each).
			results := make([]result, cfg.FailureThreshold)
			var wg sync.WaitGroup
			for i := range results {
				wg.Add(1)
				go func() { defer wg.Done(); results[i] = a.call(http.MethodGet, "/api/v1/users/"+id, nil) }()
			}
			wg.Wait()
			for i, r := range results {
				requireUnavailable(t, r, "GET while the database is unreachable")
				assert.Less(t, r.elapsed, 3*time.Second, "request %d", i)
				t.Logf("failing request %d: 503 after %s (%s)", i, r.elapsed, detail(r.resp))
			}
			assert.EqualValues(t, 2, a.breakerState(t), "failure_threshold failures open the breaker")
			r := a.mustCall(t, http.MethodGet, "/readyz", nil)
			assert.Equal(t, http.StatusServiceUnavailable, r.resp.Status, "/readyz while open: %s", r.resp.Body)

			accepted := a.proxy.Accepted()
			var slowest time.Duration
			for i := 0; i < 10; i++ {
				r := a.mustCall(t, http.MethodGet, "/api/v1/users/"+id, nil)
				requireUnavailable(t, r, "GET while the breaker is open")
				assert.Contains(t, detail(r.resp), "held back")
				assert.Less(t, stalls.Unstalled(r.start, r.elapsed), 50*time.Millisecond,
					"a rejection by the open breaker (took %s)", r.elapsed)
				slowest = max(slowest, r.elapsed)
			}
			assert.Equal(t, accepted, a.proxy.Accepted(), "rejections do not touch the database")
			n, stalled := stalls.Total()
			t.Logf("10 rejections while open, slowest %s; process stalls so far: %d, %s in all", slowest, n,
				stalled.Round(time.Millisecond))

			healed := time.Now()
			f.heal(a)
			var halfOpen time.Duration
			requirePoll(t, cfg.OpenTimeout+5*time.Second, "the breaker to go half-open", func() bool {
				halfOpen = time.Since(healed)
				return a.breakerState(t) == 1
			})
			r = a.mustCall(t, http.MethodGet, "/readyz", nil)
			assert.Equal(t, http.StatusOK, r.resp.Status, "/readyz while half-open: %s", r.resp.Body)

			// Half-open admits at most half_open_probes operations at once: ten clients at once
			// (each probe slowed down by proxy latency so that they overlap), at most that many
			// reach the database, the others are held back at once.
			a.proxy.SetLatency(100 * time.Millisecond)
			burst := make([]result, 10)
			for i := range burst {
				wg.Add(1)
				go func() { defer wg.Done(); burst[i] = a.call(http.MethodGet, "/api/v1/users/"+id, nil) }()
			}
			wg.Wait()
			a.proxy.SetLatency(0)
			admitted := 0
			for i, r := range burst {
				require.NoError(t, r.err)
				if r.resp.Status == http.StatusOK {
					admitted++
					continue
				}
				requireUnavailable(t, r, "GET held back while half-open")
				assert.Contains(t, detail(r.resp), "held back", "burst request %d", i)
				assert.Less(t, stalls.Unstalled(r.start, r.elapsed), 50*time.Millisecond, "burst request %d (took %s)", i, r.elapsed)
			}
			t.Logf("half-open burst of 10: %d admitted (half_open_probes %d)", admitted, cfg.HalfOpenProbes)
			assert.LessOrEqual(t, admitted, cfg.HalfOpenProbes)
			assert.Positive(t, admitted)

			// Probes: sequential GETs until the breaker has closed.
			requirePoll(t, 10*time.Second, "the breaker to close", func() bool {
				r := a.mustCall(t, http.MethodGet, "/api/v1/users/"+id, nil)
				if r.resp.Status != http.StatusOK && !strings.Contains(detail(r.resp), "held back") {
					t.Logf("probe: %d %s", r.resp.Status, r.resp.Body)
				}
				return r.resp.Status == http.StatusOK && a.breakerState(t) == 0
			})
			t.Logf("healed: half-open after %s, closed after %s", halfOpen, time.Since(healed))
			r = a.mustCall(t, http.MethodGet, "/readyz", nil)
			assert.Equal(t, http.StatusOK, r.resp.Status, "%s", r.resp.Body)
			assert.EqualValues(t, 1, a.metric(t, "usersvc_db_breaker_transitions_total", `from="closed"`, `to="open"`))
			assert.EqualValues(t, 1, a.metric(t, "usersvc_db_breaker_transitions_total", `from="half-open"`, `to="closed"`))
			r = a.mustCall(t, http.MethodPost, "/api/v1/users", registration("after_"+f.name))
			assert.Equal(t, http.StatusCreated, r.resp.Status, "writes work again: %s", r.resp.Body)
		})
	}
}
