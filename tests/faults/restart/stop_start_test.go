package restart_test

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"usersvc/tests/faultkit"
	"usersvc/tests/testapp"
)

// Phases of the stop/start test, as the clients record them.
const (
	phaseUp        = iota // before the stop
	phaseStopping         // pg_ctl stop running: some requests may still get through
	phaseDown             // cluster stopped
	phaseRestarted        // cluster started again, breaker not yet closed
	phaseRecovered        // breaker closed and /readyz 200
)

// timedResult is a result with the phases its request started and ended in, and when it
// started (since the test began).
type timedResult struct {
	result
	phase, endPhase int
	start           time.Time
	at              time.Duration
	write           bool
}

func (r timedResult) String() string {
	return fmt.Sprintf("[phase %d→%d, at %s] %s", r.phase, r.endPhase, r.at.Round(time.Millisecond), r.result)
}

// PostgreSQL is stopped (fast shutdown) while four clients run, and started again a while
// later, with the default resilience settings (failure_threshold 5, open_timeout 1s, 2 probes,
// 2 successes to close, 3 attempts). While it is down every request is a 503 with Retry-After
// within 3s (never a 500), the breaker opens (state 2, /readyz 503), and what the breaker
// rejects the server answers in under 50ms (each one, timed on the server, leaving out any
// moment the whole test process was measurably stalled — see faultkit.StallWatch; and the 99th
// percentile on the client's clock). The attempts the database is asked for while the breaker
// is open are bounded by the half-open probes, however many requests arrive. Once the cluster
// is up again — no manual step, no app restart — a half-open probe succeeds, the breaker
// closes, /readyz is 200 and writes succeed. Every write acknowledged before, during or after
// the outage is stored exactly once.
func TestPostgresStoppedAndStartedAgain(t *testing.T) {
	const (
		clients     = 4
		maxAttempts = 3 // resilience.retry.max_attempts
		probes      = 2 // resilience.breaker.half_open_probes
	)
	database := newDatabase(t)
	s := startApp(t, database, cluster.URL("postgres", database), testapp.Options{})
	stopped := false
	t.Cleanup(func() { // runs before the leak check, which needs the server
		if stopped {
			require.NoError(t, cluster.Start())
		}
	})

	var ids []string
	for i := range 5 {
		ids = append(ids, register(t, s, fmt.Sprintf("seed%d", i)).ID)
	}

	stalls := faultkit.WatchStalls()
	defer stalls.Stop()
	var phase atomic.Int32
	l := newLedger()
	var mu sync.Mutex
	var results []timedResult
	began := time.Now()
	record := func(r result, p int32, at time.Time, write bool) {
		mu.Lock()
		results = append(results, timedResult{result: r, phase: int(p), endPhase: int(phase.Load()), start: at, at: at.Sub(began), write: write})
		mu.Unlock()
	}
	var recoveredWrites atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for c := range clients {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				case <-time.After(5 * time.Millisecond): // pacing, so the outage is hundreds of requests, not thousands
				}
				p, at := phase.Load(), time.Now()
				if c%2 == 0 { // writers
					r := l.create(s, fmt.Sprintf("stop_c%d_%d", c, i))
					record(r, p, at, true)
					if p == phaseRecovered && r.Status == http.StatusCreated {
						recoveredWrites.Add(1)
					}
					continue
				}
				path := "/api/v1/users/" + ids[i%len(ids)]
				if i%3 == 0 {
					path = "/api/v1/users?limit=10"
				}
				record(send(s, http.MethodGet, path, nil), p, at, false)
			}
		})
	}
	defer func() { // also when an assertion below stops the test early
		select {
		case <-stop:
		default:
			close(stop)
		}
		wg.Wait()
	}()

	require.True(t, waitFor(10*time.Second, 5*time.Millisecond, func() bool { return l.ackedCount() >= 10 }), "writes succeed before the stop")
	ackedBeforeStop := l.snapshot()

	// Down.
	phase.Store(phaseStopping)
	stopStart := time.Now()
	t.Logf("stop at %s", stopStart.Sub(began).Round(time.Millisecond))
	require.NoError(t, cluster.Stop())
	stopped = true
	stopTook := time.Since(stopStart)
	phase.Store(phaseDown)
	require.True(t, waitFor(5*time.Second, 10*time.Millisecond, func() bool { return breakerState(s) == breakerOpen }), "the breaker opens")
	openedAt := time.Now()
	atOpen := mustScrape(t, s)
	ready := send(s, http.MethodGet, "/readyz", nil)
	assert.Equal(t, http.StatusServiceUnavailable, ready.Status, "/readyz while the breaker is open: %s", ready)
	assert.NotEmpty(t, ready.RetryAfter)

	// Let a half-open probe find the database still down: the breaker reopens (for 2s now).
	reopened := waitFor(5*time.Second, 20*time.Millisecond, func() bool {
		m, err := scrape(s)
		return err == nil && m.sum(mBreakerTransitions, "from", "half-open", "to", "open") >= 1 && m.sum(mBreakerState) == breakerOpen
	})
	require.True(t, reopened, "a half-open probe failed against the stopped database and the breaker opened again")
	beforeStart := mustScrape(t, s)
	downSince := time.Since(stopStart)

	// Up again.
	phase.Store(phaseRestarted)
	startStart := time.Now()
	t.Logf("start at %s", startStart.Sub(began).Round(time.Millisecond))
	require.NoError(t, cluster.Start())
	stopped = false
	startTook := time.Since(startStart)
	recovered := waitFor(20*time.Second, 20*time.Millisecond, func() bool {
		return breakerState(s) == breakerClosed && send(s, http.MethodGet, "/readyz", nil).Status == http.StatusOK
	})
	recoveryTook := time.Since(startStart)
	require.True(t, recovered, "the breaker closes and /readyz is 200 after the restart, with no manual step")
	phase.Store(phaseRecovered)
	require.True(t, waitFor(10*time.Second, 5*time.Millisecond, func() bool { return recoveredWrites.Load() >= 5 }), "writes succeed again")
	close(stop)
	wg.Wait()
	final := mustScrape(t, s)
	r := l.create(s, "stop_final")
	require.Equal(t, http.StatusCreated, r.Status, "%s", r)

	// What the clients saw.
	var (
		statuses   = offences{rule: "every answer is 200, 201 or 503"}
		noRetry    = offences{rule: "a 503 carries Retry-After"}
		slow       = offences{rule: "no request waits 3s or more"}
		slowReject = offences{rule: "the server answers a breaker rejection in under 50ms (not counting stalls of the whole process)"}
		stalledOut = offences{rule: "the server answers a breaker rejection in under 250ms, stalls included"}
		downOK     = offences{rule: "while the database is stopped, every answer is 503"}
		upFailed   = offences{rule: "before the stop, every request succeeds"}
		inPhase    = func(r timedResult, p int) bool { return r.phase == p && r.endPhase == p }
	)
	byPhase := map[int]map[int]int{}
	var rejections, rejectionsUnstalled, rejectionsServer []time.Duration
	excused := 0
	slowest, outageRequests := time.Duration(0), 0
	for _, r := range results {
		if byPhase[r.phase] == nil {
			byPhase[r.phase] = map[int]int{}
		}
		byPhase[r.phase][r.Status]++
		slowest = max(slowest, r.Elapsed)
		if r.Elapsed >= 3*time.Second {
			slow.add(r)
		}
		switch r.Status {
		case http.StatusOK, http.StatusCreated:
		case http.StatusServiceUnavailable:
			if r.RetryAfter == "" {
				noRetry.add(r)
			}
			if strings.Contains(r.Detail, heldBack) {
				rejections = append(rejections, r.Elapsed)
				rejectionsUnstalled = append(rejectionsUnstalled, stalls.Unstalled(r.start, r.Elapsed))
				rejectionsServer = append(rejectionsServer, r.ServerTime)
				stalled := stalls.During(r.start, r.start.Add(r.Elapsed))
				if r.ServerTime == 0 || r.ServerTime-stalled >= 50*time.Millisecond {
					slowReject.add(r)
				}
				if r.ServerTime >= 250*time.Millisecond {
					stalledOut.add(r)
				}
				if r.ServerTime >= 50*time.Millisecond {
					excused++
				}
			}
		default:
			statuses.add(r)
		}
		switch {
		case inPhase(r, phaseDown):
			outageRequests++
			if r.Status != http.StatusServiceUnavailable {
				downOK.add(r)
			}
		case inPhase(r, phaseUp) && r.Status != http.StatusOK && r.Status != http.StatusCreated:
			upFailed.add(r)
		}
	}
	slices.Sort(rejections)
	slices.Sort(rejectionsUnstalled)
	slices.Sort(rejectionsServer)
	pct := func(d []time.Duration, p float64) time.Duration {
		if len(d) == 0 {
			return 0
		}
		return d[int(p*float64(len(d)-1))].Round(10 * time.Microsecond)
	}
	t.Logf("stop took %s, breaker open %s after the stop; down %s in all; start took %s, recovered %s after the start",
		stopTook.Round(time.Millisecond), openedAt.Sub(stopStart).Round(time.Millisecond), downSince.Round(time.Millisecond),
		startTook.Round(time.Millisecond), recoveryTook.Round(time.Millisecond))
	t.Logf("statuses by phase (up, stopping, down, restarted, recovered): %v; slowest request %s; "+
		"%d breaker rejections: client p50 %s, p99 %s, max %s (stalls left out: p99 %s); server p50 %s, p99 %s, max %s",
		byPhase, slowest.Round(time.Millisecond), len(rejections), pct(rejections, 0.5), pct(rejections, 0.99), pct(rejections, 1),
		pct(rejectionsUnstalled, 0.99), pct(rejectionsServer, 0.5), pct(rejectionsServer, 0.99), pct(rejectionsServer, 1))
	nStalls, stalledFor := stalls.Total()
	t.Logf("process stalls over 10ms: %d, %s in all; rejections over 50ms on the server's clock: %d (allowed only during a stall)",
		nStalls, stalledFor.Round(time.Millisecond), excused)
	for _, o := range []*offences{&statuses, &noRetry, &slow, &slowReject, &stalledOut, &downOK, &upFailed} {
		o.check(t)
	}
	assert.Positive(t, len(rejections), "the open breaker rejected requests")
	// On the client's clock, a stall of the test process itself (the race detector's GC on two
	// cores, or a machine busy with other tests: seen 74 stalls, 1.4s in all, in one run) can
	// push many requests past 50ms together while the server took < 3ms; so the client's view
	// leaves out the stalls, like the server's, and is bounded at the 99th percentile.
	assert.Less(t, pct(rejectionsUnstalled, 0.99), 50*time.Millisecond, "breaker rejections as clients see them, stalls left out (p99)")

	// Bounded probing: while open, the database sees only the half-open probes' attempts (plus
	// what requests in flight when it opened still tried), not one per request.
	episodes := beforeStart.sum(mBreakerTransitions, "from", "open", "to", "half-open")
	attemptsWhileOpen := beforeStart.sum(mAttempts) - atOpen.sum(mAttempts)
	bound := episodes*probes*maxAttempts + clients*maxAttempts
	assert.LessOrEqual(t, attemptsWhileOpen, bound, "attempts while open, %0.f half-open episode(s)", episodes)
	assert.GreaterOrEqual(t, final.sum(mBreakerTransitions, "from", "half-open", "to", "closed"), 1.0)
	assert.Equal(t, float64(breakerClosed), final.sum(mBreakerState))

	t.Logf("attempts while open: %.0f for %d outage requests, %.0f half-open episodes (bound %.0f); transitions %v",
		attemptsWhileOpen, outageRequests, episodes, bound, transitions(final))

	// The database: nothing acknowledged was lost, nothing stored twice.
	admin := adminConn(t, database)
	var n int
	for name, id := range ackedBeforeStop {
		require.NoError(t, admin.QueryRow(t.Context(), "SELECT count(*) FROM users WHERE id = $1", id).Scan(&n))
		assert.Equal(t, 1, n, "%s, acknowledged before the stop, is there after the restart", name)
	}
	l.verify(t, admin, "stop_")
}
