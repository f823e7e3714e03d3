package load

import (
	"context"
	"fmt"
	"strings"
	"time"

	"usersvc/app"
	"usersvc/tests/performance/perfkit"
)

const (
	normalClients   = 20
	highClients     = 100
	exhaustPool     = 2
	exhaustClients  = 200
	sweepClients    = 64
	recycleLifetime = time.Second
	minRecycleLoad  = 4 * time.Second
	noHangMargin    = 400 * time.Millisecond // over resilience.operation_timeout, for a request under exhaustion
	// exhaustOpTimeout is resilience.operation_timeout during exhaustion: short enough that
	// the queue for 2 connections outgrows it, so shedding (503) is exercised, not just queueing.
	exhaustOpTimeout  = 100 * time.Millisecond
	peakTolerance     = 0.05 // pools within this of the best throughput count as at the peak
	mixedDescription  = "mixed load, one POST /users for every four GET /users/{id}"
	recycleConfigName = "USERSVC_DATABASE__CONN_MAX_LIFETIME"
)

func poolSuite() perfkit.Runner { return perfkit.Runner{ID: "07-pool", Run: runPool} }

func runPool(ctx context.Context, env *perfkit.Env) (s perfkit.Suite, err error) {
	cfg, err := app.LoadConfig("", perfkit.AppEnv(env.DBURL, exhaustPool, exhaustEnv()))
	if err != nil {
		return s, fmt.Errorf("load: the perf configuration: %w", err)
	}
	s = perfkit.Suite{ID: "07-pool", Title: "Connection pool", Summary: fmt.Sprintf(
		"The real binary, restarted for each pool setting, under closed-loop HTTP loads (vegeta, one worker "+
			"per client, no pacing) of %s each: normal (%d clients) and high (%d) load at the run's pool of %d "+
			"on a %s; exhaustion: a pool of %d under %d clients with resilience.operation_timeout = %s, so "+
			"requests queue past their budget (at least one must be shed; only 2xx, or 503 with Retry-After, may "+
			"come back, and nothing may wait much past the budget; http.request_timeout is %s); "+
			"recycling: database.conn_max_lifetime %s under %d clients (connections must be replaced with no "+
			"error; counted by go_sql_max_lifetime_closed_total); and a sweep of the pool size over %v at %d "+
			"clients for GET /users/{id} and POST /users. Pool waits come from the server's /metrics (DBStats).",
		env.Profile.Step, normalClients, highClients, env.PoolSize, mixedDescription, exhaustPool, exhaustClients,
		cfg.Resilience.OperationTimeout, cfg.HTTP.RequestTimeout, recycleLifetime, normalClients,
		env.Profile.PoolSizes, sweepClients)}
	r, err := newRig(env)
	if err != nil {
		return s, err
	}
	defer r.finish(ctx, &s, &err)
	if err := poolLoads(ctx, r, &s, cfg.Resilience.OperationTimeout); err != nil {
		return s, err
	}
	if err := poolRecycling(ctx, r, &s); err != nil {
		return s, err
	}
	return s, poolSweep(ctx, r, &s)
}

// poolLoads measures normal and high load at the run's pool and exhaustion at a pool of 2.
func poolLoads(ctx context.Context, r *rig, s *perfkit.Suite, opTimeout time.Duration) error {
	table := perfkit.Table{
		Caption: fmt.Sprintf("%s, %s each", strings.ToUpper(mixedDescription[:1])+mixedDescription[1:], r.env.Profile.Step),
		Header: []string{"Scenario", "Pool", "Clients", "Answered req/s", "GET p50 ms", "GET p99 ms", "POST p50 ms", "POST p99 ms",
			"max ms", "Statuses", "Errors", "Pool waits/req", "Pool wait ms/req"},
	}
	scenarios := []struct {
		key, name     string
		pool, clients int
	}{
		{"normal", "normal load", r.env.PoolSize, normalClients},
		{"high", "high load", r.env.PoolSize, highClients},
		{"exhaustion", "exhaustion", exhaustPool, exhaustClients},
	}
	for i, sc := range scenarios {
		if i == 0 || sc.pool != scenarios[i-1].pool {
			var extra []string
			if sc.key == "exhaustion" {
				extra = append(extra, exhaustEnv())
			}
			if err := r.start(ctx, sc.pool, extra...); err != nil {
				return err
			}
		}
		l := load{name: sc.key, clients: sc.clients, dur: r.env.Profile.Step, target: r.t.mixed}
		if sc.key == "exhaustion" {
			l.check = within2xxOr503
		}
		out, pool, err := r.step(ctx, l)
		if err != nil {
			return fmt.Errorf("load: %s: %w", sc.name, err)
		}
		t, get, post := out.all, out.method("GET"), out.method("POST")
		n := t.requests()
		table.Rows = append(table.Rows, []string{sc.name, itoa(sc.pool), itoa(sc.clients), rps(t.rps()),
			ms(get.q(0.5)), ms(get.q(0.99)), ms(post.q(0.5)), ms(post.q(0.99)), ms(t.m.Latencies.Max),
			statusText(t), errorsCell(t),
			fmt.Sprintf("%.3f", perRequest(pool.WaitCount, n)), fmt.Sprintf("%.3f", 1000*perRequest(pool.WaitSeconds, n))})
		s.Higher(sc.key+"_rps", t.rps())
		s.Metric(sc.key+"_p99_ms", msOf(t.q(0.99)))
		s.Metric(sc.key+"_errors", float64(t.bad))
		s.Metric(sc.key+"_pool_wait_ms_per_req", 1000*perRequest(pool.WaitSeconds, n))
		if sc.key == "exhaustion" {
			exhaustionTargets(s, t, opTimeout)
			continue
		}
		tg := perfkit.Target{Name: fmt.Sprintf("%s (%d clients, pool %d): no errors", sc.name, sc.clients, sc.pool),
			Want: "0 errors", Got: fmt.Sprintf("%d errors", t.bad), Met: t.bad == 0}
		if !tg.Met {
			tg.Gap = tg.Got
		}
		s.Targets = append(s.Targets, tg)
	}
	s.Tables = append(s.Tables, table)
	return nil
}

func exhaustionTargets(s *perfkit.Suite, t *tally, opTimeout time.Duration) {
	unavailable := t.m.StatusCodes["503"]
	s.Metric("exhaustion_503", float64(unavailable))
	s.Metric("exhaustion_max_ms", msOf(t.m.Latencies.Max))
	answers := perfkit.Target{Name: fmt.Sprintf("exhaustion (pool %d, %d clients): only 2xx or 503 with Retry-After", exhaustPool, exhaustClients),
		Want: "0 other answers", Got: fmt.Sprintf("%d other answers (%s)", t.bad, statusText(t)), Met: t.bad == 0}
	if !answers.Met {
		answers.Gap = fmt.Sprintf("%d other answers: %s", t.bad, t.problemText())
	}
	limit := opTimeout + noHangMargin
	hang := perfkit.Target{Name: "exhaustion: no hang (slowest answer vs resilience.operation_timeout)",
		Want: fmt.Sprintf("max ≤ %s (operation_timeout %s + %s)", limit, opTimeout, noHangMargin),
		Got:  fmt.Sprintf("max %s ms", ms(t.m.Latencies.Max)), Met: t.m.Latencies.Max <= limit}
	if !hang.Met {
		hang.Gap = fmt.Sprintf("%s ms over", ms(t.m.Latencies.Max-limit))
	}
	shed := perfkit.Target{Name: "exhaustion: requests past their budget are shed with 503", Want: "≥ 1 × 503",
		Got: fmt.Sprintf("%d × 503", unavailable), Met: unavailable > 0}
	if !shed.Met {
		shed.Gap = "nothing was shed: the queue never outgrew the budget, so this run did not test shedding"
	}
	s.Targets = append(s.Targets, answers, hang, shed)
	s.Notes = append(s.Notes, fmt.Sprintf("Exhaustion (pool %d, %d clients): %d of %d requests got 503; the median request waited %s ms, the slowest %s ms.",
		exhaustPool, exhaustClients, unavailable, t.requests(), ms(t.q(0.5)), ms(t.m.Latencies.Max)))
}

func exhaustEnv() string {
	return "USERSVC_RESILIENCE__OPERATION_TIMEOUT=" + exhaustOpTimeout.String()
}

// poolRecycling runs the normal load with connections that live recycleLifetime.
func poolRecycling(ctx context.Context, r *rig, s *perfkit.Suite) error {
	if err := r.start(ctx, r.env.PoolSize, recycleConfigName+"="+recycleLifetime.String()); err != nil {
		return err
	}
	dur := max(2*r.env.Profile.Step, minRecycleLoad)
	out, pool, err := r.step(ctx, load{name: "recycling", clients: normalClients, dur: dur, target: r.t.mixed})
	if err != nil {
		return fmt.Errorf("load: recycling: %w", err)
	}
	t := out.all
	s.Tables = append(s.Tables, perfkit.Table{
		Caption: fmt.Sprintf("Recycling: database.conn_max_lifetime %s, pool %d, %d clients, %s for %s",
			recycleLifetime, r.env.PoolSize, normalClients, mixedDescription, dur),
		Header: []string{"Answered req/s", "p50 ms", "p99 ms", "max ms", "Errors", "Closed (lifetime)", "Opened", "Open at end"},
		Rows: [][]string{{rps(t.rps()), ms(t.q(0.5)), ms(t.q(0.99)), ms(t.m.Latencies.Max), errorsCell(t),
			fmt.Sprintf("%.0f", pool.LifetimeClosed), fmt.Sprintf("%.0f", pool.opened()), fmt.Sprintf("%.0f", pool.Open)}},
	})
	s.Metric("recycling_errors", float64(t.bad))
	s.Metric("recycling_closed_by_lifetime", pool.LifetimeClosed)
	s.Metric("recycling_p99_ms", msOf(t.q(0.99)))
	tg := perfkit.Target{Name: fmt.Sprintf("recycling (conn_max_lifetime %s): connections replaced with no error", recycleLifetime),
		Want: "0 errors, ≥ 1 connection closed by its lifetime",
		Got:  fmt.Sprintf("%d errors, %.0f closed by lifetime", t.bad, pool.LifetimeClosed),
		Met:  t.bad == 0 && pool.LifetimeClosed >= 1}
	if !tg.Met {
		tg.Gap = tg.Got
	}
	s.Targets = append(s.Targets, tg)
	return nil
}

// poolSweep measures GET and POST throughput for each pool size and says where it peaks.
func poolSweep(ctx context.Context, r *rig, s *perfkit.Suite) error {
	table := perfkit.Table{
		Caption: fmt.Sprintf("Pool-size sweep: %d clients, closed loop, %s per request kind and pool size", sweepClients, r.env.Profile.Step),
		Header:  []string{"Pool", "Request", "Req/s", "p50 ms", "p99 ms", "max ms", "Errors", "Pool waits/req", "Pool wait ms/req"},
	}
	thr, p99 := map[string]*perfkit.Series{}, map[string]*perfkit.Series{}
	rate := map[string]map[int]float64{}
	for _, size := range r.env.Profile.PoolSizes {
		if err := r.start(ctx, size); err != nil {
			return err
		}
		for _, o := range []op{opGet, opPost} {
			out, pool, err := r.step(ctx, load{name: o.key, clients: sweepClients, dur: r.env.Profile.Step, target: o.target(r.t)})
			if err != nil {
				return fmt.Errorf("load: pool %d, %s: %w", size, o.label, err)
			}
			t := out.all
			n := t.requests()
			table.Rows = append(table.Rows, []string{itoa(size), o.label, rps(t.rps()), ms(t.q(0.5)), ms(t.q(0.99)), ms(t.m.Latencies.Max),
				errorsCell(t), fmt.Sprintf("%.3f", perRequest(pool.WaitCount, n)), fmt.Sprintf("%.3f", 1000*perRequest(pool.WaitSeconds, n))})
			series(thr, o.label).Points = append(series(thr, o.label).Points, perfkit.Point{X: float64(size), Y: t.rps()})
			series(p99, o.label).Points = append(series(p99, o.label).Points, perfkit.Point{X: float64(size), Y: msOf(t.q(0.99))})
			if rate[o.key] == nil {
				rate[o.key] = map[int]float64{}
			}
			rate[o.key][size] = t.rps()
			s.Higher(fmt.Sprintf("sweep_%s_rps_pool%d", o.key, size), t.rps())
		}
	}
	s.Tables = append(s.Tables, table)
	s.Charts = append(s.Charts,
		perfkit.Chart{Name: "throughput-vs-pool-size", Title: fmt.Sprintf("Throughput vs pool size (%d clients)", sweepClients),
			XLabel: "database.max_open_conns", YLabel: "requests/s", LogX: true, Series: ordered(thr, opGet.label, opPost.label)},
		perfkit.Chart{Name: "p99-vs-pool-size", Title: fmt.Sprintf("p99 latency vs pool size (%d clients)", sweepClients),
			XLabel: "database.max_open_conns", YLabel: "p99 latency (ms)", LogX: true, Series: ordered(p99, opGet.label, opPost.label)})
	best, near := bestPool(rate["get"], rate["post"])
	s.Info("best_pool_size", float64(best))
	s.Notes = append(s.Notes, fmt.Sprintf(
		"Pool size: combined throughput (GET and POST, each relative to its own best) peaks at a pool of %d "+
			"(GET %.0f req/s, POST %.0f req/s at %d clients). Pools whose GET and POST throughput are each "+
			"within %.0f%% of that request's best over the sweep: %v (none when no pool is near the best for "+
			"both). Throughput differences inside run-to-run noise (a few per cent here) do not pick a pool.",
		best, rate["get"][best], rate["post"][best], sweepClients, 100*peakTolerance, near))
	return nil
}

// bestPool returns the pool size whose GET and POST throughputs, each divided by its best,
// add up to the most, and every size within peakTolerance of the best for both, ascending.
func bestPool(get, post map[int]float64) (best int, near []int) {
	topGet, topPost := 0.0, 0.0
	for size := range get {
		topGet, topPost = max(topGet, get[size]), max(topPost, post[size])
	}
	if topGet == 0 || topPost == 0 {
		return 0, nil
	}
	score := -1.0
	for _, size := range sortedKeys(get) {
		sc := get[size]/topGet + post[size]/topPost
		if sc > score {
			best, score = size, sc
		}
		if get[size] >= (1-peakTolerance)*topGet && post[size] >= (1-peakTolerance)*topPost {
			near = append(near, size)
		}
	}
	return best, near
}

// statusText is the status distribution of t: `200 ×812, 201 ×203, 503 ×4`.
func statusText(t *tally) string {
	codes := map[int]int{}
	for code, n := range t.m.StatusCodes {
		var c int
		fmt.Sscan(code, &c)
		codes[c] = n
	}
	parts := []string{}
	for _, c := range sortedKeys(codes) {
		label := itoa(c)
		if c == 0 {
			label = "no answer"
		}
		parts = append(parts, fmt.Sprintf("%s ×%d", label, codes[c]))
	}
	return strings.Join(parts, ", ")
}
