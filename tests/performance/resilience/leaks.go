package resilience

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"go.uber.org/goleak"

	"usersvc/app"
	"usersvc/tests/performance/perfkit"
)

const leaksID = "09-leaks"

const (
	mib            = 1 << 20
	heapGrowthMax  = 1 * mib // the target for live heap growth across the soak
	rssPlateauMax  = 5.0     // % the last third of the soak may sit above the middle third
	soakSamples    = 50      // one sample every 2% of the soak
	concurrentSess = 20
)

// sample is the process and pool at one point of the soak, taken while no request runs.
type sample struct {
	ops        int64
	at         time.Duration // since the soak began
	heapLive   uint64        // bytes live after a forced GC
	rss        uint64
	goroutines int
	pool       sql.DBStats
}

// phaseResult is one phase's line in the report.
type phaseResult struct {
	name        string
	ops         int64
	unexpected  int64
	after       sample
	idleInTx    int
	poolDrained bool
}

// leaks is one run of suite 09.
type leaks struct {
	env    *perfkit.Env
	app    *app.App
	sqlDB  *sql.DB
	client *apiClient
	insp   *pgx.Conn // inspects pg_stat_activity, as another application_name
	s      *perfkit.Suite
}

// runLeaks is suite 09: the real app behind an httptest server on the run's seeded
// database, driven through phases and a soak, sampled for heap, RSS, goroutines and pool.
func runLeaks(ctx context.Context, env *perfkit.Env) (s perfkit.Suite, err error) {
	s = perfkit.Suite{
		ID:    leaksID,
		Title: "Leaks and memory",
		Summary: fmt.Sprintf("The service in-process behind an httptest server, on the run's database, driven over HTTP: "+
			"100 operations (create, get, update, list, delete, restore), requests that fail inside their transaction "+
			"(409 duplicate username, 412 stale If-Match, 409 rename onto a taken username, 404 second delete), %d "+
			"concurrent sessions, then a soak of %d operations at pool-size concurrency. Every 2%% of the soak the "+
			"load pauses and the live heap after a forced GC, RSS, goroutines and pool use are sampled. At the end: "+
			"goroutines against a goleak baseline taken before the app was opened, pool InUse, and pg_stat_activity "+
			"for connections of ours idle in a transaction.", concurrentSess, env.Profile.SoakOps),
	}
	baseline := goleak.IgnoreCurrent()
	goroutinesBefore := runtime.NumGoroutine()
	l := &leaks{env: env, s: &s}
	if l.app, err = perfkit.OpenApp(ctx, env.DBURL, env.PoolSize); err != nil {
		return s, err
	}
	srv := httptest.NewServer(l.app.Handler())
	l.client = newAPIClient(srv.URL, "leak"+randomTag()+"-")
	closed := false
	shutdown := func() {
		if !closed {
			closed = true
			srv.Close()
			l.client.close()
			_ = l.app.Close()
		}
	}
	defer shutdown()
	if l.sqlDB, err = l.app.DB().DB(); err != nil {
		return s, err
	}
	icfg, err := pgx.ParseConfig(env.DBURL)
	if err != nil {
		return s, err
	}
	icfg.RuntimeParams["application_name"] = "usersvc-perf-inspector"
	if l.insp, err = pgx.ConnectConfig(ctx, icfg); err != nil {
		return s, err
	}
	phases, soak, err := l.run(ctx)
	_ = l.insp.Close(context.WithoutCancel(ctx))
	if err != nil {
		return s, err
	}
	shutdown()
	leaked := goleak.Find(baseline)
	goroutinesAfter := runtime.NumGoroutine()
	l.report(phases, soak, leaked, goroutinesBefore, goroutinesAfter)
	return s, nil
}

func (l *leaks) run(ctx context.Context) ([]phaseResult, []sample, error) {
	c := l.client
	taken := c.username()
	if err := c.call(ctx, http.MethodPost, "/api/v1/users", registration(taken), http.StatusCreated, nil); err != nil {
		return nil, nil, err
	}
	c.taken = taken
	var phases []phaseResult
	for _, p := range []struct {
		name         string
		workers, ops int
		steps        []step
	}{
		{"100 operations, one at a time", 1, 100, lifeSteps},
		{"errors inside transactions", 2, 300, errorSteps},
		{fmt.Sprintf("%d concurrent sessions", concurrentSess), concurrentSess, concurrentSess * 5 * len(lifeSteps), lifeSteps},
	} {
		opsBefore, oddBefore := c.ops.Load(), c.unexpected.Load()
		if err := c.drive(ctx, p.workers, p.ops, p.steps); err != nil {
			return nil, nil, fmt.Errorf("%s: %s: %w", leaksID, p.name, err)
		}
		r, err := l.phaseEnd(ctx, p.name, c.ops.Load()-opsBefore, c.unexpected.Load()-oddBefore)
		if err != nil {
			return nil, nil, err
		}
		phases = append(phases, r)
	}

	// The soak, in slices of 2%, sampled between slices.
	soakOps := l.env.Profile.SoakOps
	workers := l.env.PoolSize
	if err := l.heapProfile("heap-start.pprof"); err != nil {
		return nil, nil, err
	}
	opsBefore, oddBefore := c.ops.Load(), c.unexpected.Load()
	// Keep-alive connections of the 20 sessions would otherwise time out during the soak
	// and show as a drop in goroutines and heap.
	c.close()
	samples := []sample{l.sample(0)}
	start := time.Now()
	for i := 1; i <= soakSamples; i++ {
		slice := soakOps*i/soakSamples - soakOps*(i-1)/soakSamples
		if err := c.drive(ctx, workers, slice, lifeSteps); err != nil {
			return nil, nil, fmt.Errorf("%s: soak: %w", leaksID, err)
		}
		at := time.Since(start)
		samples = append(samples, l.sample(c.ops.Load()-opsBefore))
		samples[len(samples)-1].at = at
	}
	l.s.Higher("soak_ops_per_s", float64(c.ops.Load()-opsBefore)/time.Since(start).Seconds())
	if err := l.heapProfile("heap-end.pprof"); err != nil {
		return nil, nil, err
	}
	r, err := l.phaseEnd(ctx, fmt.Sprintf("soak, %d workers", workers), c.ops.Load()-opsBefore, c.unexpected.Load()-oddBefore)
	if err != nil {
		return nil, nil, err
	}
	return append(phases, r), samples, nil
}

// phaseEnd waits (up to 2 s) for the pool to be idle and for no backend of ours to be idle
// in a transaction, and records the phase.
func (l *leaks) phaseEnd(ctx context.Context, name string, ops, unexpected int64) (phaseResult, error) {
	r := phaseResult{name: name, ops: ops, unexpected: unexpected}
	deadline := time.Now().Add(2 * time.Second)
	for {
		n, err := l.idleInTransaction(ctx)
		if err != nil {
			return r, err
		}
		r.idleInTx = n
		r.poolDrained = l.sqlDB.Stats().InUse == 0
		if (n == 0 && r.poolDrained) || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	r.after = l.sample(ops)
	return r, nil
}

func (l *leaks) idleInTransaction(ctx context.Context) (int, error) {
	var n int
	err := l.insp.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
		WHERE datname = current_database() AND application_name = $1 AND state LIKE 'idle in transaction%'`,
		perfkit.ApplicationName).Scan(&n)
	return n, err
}

// sample forces two GCs (the second empties the sync.Pool victim caches) and reads the
// live heap the collector found, RSS, goroutines and pool statistics.
func (l *leaks) sample(ops int64) sample {
	runtime.GC()
	runtime.GC()
	m := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(m)
	return sample{ops: ops, heapLive: m[0].Value.Uint64(), rss: rss(), goroutines: runtime.NumGoroutine(), pool: l.sqlDB.Stats()}
}

// rss is the process's resident set size from /proc/self/statm (0 where there is none).
func rss() uint64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0
	}
	pages, _ := strconv.ParseUint(f[1], 10, 64)
	return pages * uint64(os.Getpagesize())
}

func (l *leaks) heapProfile(name string) error {
	runtime.GC()
	f, err := os.Create(filepath.Join(l.env.OutDir, name))
	if err != nil {
		return err
	}
	if err := pprof.WriteHeapProfile(f); err != nil {
		_ = f.Close()
		return err
	}
	l.s.Files = append(l.s.Files, name)
	return f.Close()
}
