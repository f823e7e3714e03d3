package load

import (
	"context"
	"fmt"
	"strings"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"usersvc/tests/performance/perfkit"
)

// targetClients are the client counts whose answers must all be the documented ones. Their
// p99 is reported here; its target is relative to pgbench's p99 on the same SQL in the same
// run (suite 11): on two shared cores an absolute bound measures the machine's queueing.
var targetClients = []int{20, 100}

// maxTailRatio is the open-model target: p99 ≤ 5× p50 at half the maximum rate.
const maxTailRatio = 5.0

// op is a kind of request a suite measures.
type op struct {
	key    string // metric key part: "get", "post"
	label  string // "GET /users/{id}"
	target func(t *targets) vegeta.Targeter
}

var (
	opGet  = op{"get", "GET /users/{id}", func(t *targets) vegeta.Targeter { return t.getUser }}
	opPost = op{"post", "POST /users", func(t *targets) vegeta.Targeter { return t.register }}
)

func concurrencySuite() perfkit.Runner {
	return perfkit.Runner{ID: "06-concurrency", Run: runConcurrency}
}

func runConcurrency(ctx context.Context, env *perfkit.Env) (s perfkit.Suite, err error) {
	s = perfkit.Suite{ID: "06-concurrency", Title: "Concurrency against HTTP", Summary: fmt.Sprintf(
		"The real binary (pool %d) under 1 to %d concurrent HTTP clients, each level a closed loop "+
			"of %s (vegeta with exactly that many workers and no pacing: a client sends its next request when "+
			"the last is answered) for GET /users/{id} on seeded live users and for POST /users with new "+
			"usernames. Latency percentiles come from vegeta's t-digest; every answer other than 200/201 "+
			"is an error. Pool waits are the change of go_sql_wait_count_total and "+
			"go_sql_wait_duration_seconds_total on the server's /metrics over the step. The targets at 20 and 100 "+
			"clients are judged on these closed loops, since N concurrent clients is a closed-loop load. Then "+
			"open-model loads: GET and POST each at a constant rate of half its highest throughput, for the "+
			"latency a client sees when arrivals do not wait for answers (no coordinated omission). Load generator, server and PostgreSQL share the machine.",
		env.PoolSize, maxOf(env.Profile.Concurrency), env.Profile.Step)}
	r, err := newRig(env)
	if err != nil {
		return s, err
	}
	defer r.finish(ctx, &s, &err)
	if err := r.start(ctx, env.PoolSize); err != nil {
		return s, err
	}

	table := perfkit.Table{
		Caption: fmt.Sprintf("Closed loop, %s per level, pool %d", env.Profile.Step, env.PoolSize),
		Header: append(append([]string{"Clients", "Request", "Req/s"}, latencyHeader...),
			"Errors", "Error rate", "Pool waits/req", "Pool wait ms/req"),
	}
	lat := map[string]*perfkit.Series{}
	thr := map[string]*perfkit.Series{}
	best := map[string]float64{}
	results := map[string]map[int]*tally{}
	totalErrors := 0
	for _, c := range env.Profile.Concurrency {
		for _, o := range []op{opGet, opPost} {
			out, pool, err := r.step(ctx, load{name: o.key, clients: c, dur: env.Profile.Step, target: o.target(r.t)})
			if err != nil {
				return s, err
			}
			t := out.all
			n := t.requests()
			table.Rows = append(table.Rows, append(append([]string{itoa(c), o.label, rps(t.rps())}, latencyCells(t)...),
				errorsCell(t), pct(t.errorRate()),
				fmt.Sprintf("%.3f", perRequest(pool.WaitCount, n)), fmt.Sprintf("%.3f", 1000*perRequest(pool.WaitSeconds, n))))
			series(lat, o.label+" p50").Points = append(series(lat, o.label+" p50").Points, perfkit.Point{X: float64(c), Y: msOf(t.q(0.5))})
			series(lat, o.label+" p99").Points = append(series(lat, o.label+" p99").Points, perfkit.Point{X: float64(c), Y: msOf(t.q(0.99))})
			series(thr, o.label).Points = append(series(thr, o.label).Points, perfkit.Point{X: float64(c), Y: t.rps()})
			best[o.key] = max(best[o.key], t.rps())
			if results[o.key] == nil {
				results[o.key] = map[int]*tally{}
			}
			results[o.key][c] = t
			totalErrors += t.bad
		}
	}
	s.Tables = append(s.Tables, table)
	s.Charts = append(s.Charts,
		perfkit.Chart{Name: "latency-vs-concurrency", Title: "Latency vs concurrent clients (closed loop)",
			XLabel: "concurrent clients", YLabel: "latency (ms, log scale)", LogX: true, LogY: true,
			Series: ordered(lat, opGet.label+" p50", opGet.label+" p99", opPost.label+" p50", opPost.label+" p99")},
		perfkit.Chart{Name: "throughput-vs-concurrency", Title: "Throughput vs concurrent clients (closed loop)",
			XLabel: "concurrent clients", YLabel: "requests/s", LogX: true,
			Series: ordered(thr, opGet.label, opPost.label)})
	s.Higher("get_max_rps", best["get"])
	s.Higher("post_max_rps", best["post"])
	s.Metric("errors", float64(totalErrors))
	for _, c := range targetClients {
		for _, o := range []op{opGet, opPost} {
			t, ok := results[o.key][c]
			if !ok {
				continue
			}
			s.Metric(fmt.Sprintf("%s_p99_ms_c%d", o.key, c), msOf(t.q(0.99)))
			s.Targets = append(s.Targets, errorsTarget(fmt.Sprintf("%s at %d clients", o.label, c), t))
		}
	}
	s.Notes = append(s.Notes, peakNote(thr[opGet.label], opGet.label), peakNote(thr[opPost.label], opPost.label))

	for _, o := range []op{opGet, opPost} {
		if err := openModel(ctx, r, &s, o, best[o.key]); err != nil {
			return s, err
		}
	}
	return s, nil
}

// openModel loads o at half of maxRPS, at a constant rate, and states the tail-latency
// target.
func openModel(ctx context.Context, r *rig, s *perfkit.Suite, o op, maxRPS float64) error {
	rate := max(1, int(maxRPS/2))
	out, pool, err := r.step(ctx, load{name: "open", clients: r.env.PoolSize, rate: rate, dur: r.env.Profile.Step, target: o.target(r.t)})
	if err != nil {
		return err
	}
	t := out.all
	p50, p99 := t.q(0.5), t.q(0.99)
	ratio := float64(p99) / float64(max(p50, 1))
	s.Tables = append(s.Tables, perfkit.Table{
		Caption: fmt.Sprintf("Open model: %s at a constant %d req/s (half its highest closed-loop throughput), %s",
			o.label, rate, r.env.Profile.Step),
		Header: append(append([]string{"Target rate", "Sent req/s", "Answered req/s"}, latencyHeader...), "p99/p50", "Errors", "Pool waits/req"),
		Rows: [][]string{append(append([]string{itoa(rate), rps(t.m.Rate), rps(t.rps())}, latencyCells(t)...),
			fmt.Sprintf("%.1f×", ratio), errorsCell(t), fmt.Sprintf("%.3f", perRequest(pool.WaitCount, t.requests())))},
	})
	s.Metric("open_"+o.key+"_p50_ms", msOf(p50))
	s.Metric("open_"+o.key+"_p99_ms", msOf(p99))
	s.Metric("open_"+o.key+"_p99_over_p50", ratio)
	tg := perfkit.Target{Name: "p99 ≤ 5× p50 at half the maximum rate (" + o.label + ", open model)", Want: "≤ 5×",
		Got: fmt.Sprintf("%.1f× (p50 %s ms, p99 %s ms)", ratio, ms(p50), ms(p99)), Met: ratio <= maxTailRatio && t.bad == 0}
	if !tg.Met {
		tg.Gap = fmt.Sprintf("%.1f× over", ratio-maxTailRatio)
		if t.bad > 0 {
			tg.Gap = fmt.Sprintf("%d errors", t.bad)
		}
	}
	// vegeta needs CPU to keep its schedule, and shares the two CPUs with the service and
	// PostgreSQL: when it fell behind, the latencies are partly its own.
	if sent := t.m.Rate / float64(rate); sent < minSentShare {
		behind := fmt.Sprintf("vegeta sent %.0f%% of the scheduled %d req/s: the load generator fell behind its schedule "+
			"(CPU), so part of these latencies is its own", 100*sent, rate)
		tg.Gap = strings.TrimPrefix(tg.Gap+"; "+behind, "; ")
		s.Notes = append(s.Notes, fmt.Sprintf("Open model, %s: %s.", o.label, behind))
	}
	s.Targets = append(s.Targets, tg)
	return nil
}

// minSentShare is the share of an open model's scheduled rate vegeta must send for its
// latencies to be the service's.
const minSentShare = 0.95

// errorsTarget states "0 errors" for t, and shows its p99.
func errorsTarget(name string, t *tally) perfkit.Target {
	tg := perfkit.Target{Name: name + ": every answer the documented one (p99 vs pgbench: suite 11)", Want: "0 errors",
		Got: fmt.Sprintf("%d errors, p99 %s ms", t.bad, ms(t.q(0.99))), Met: t.bad == 0}
	if t.bad > 0 {
		tg.Gap = fmt.Sprintf("%d errors", t.bad)
	}
	return tg
}

// peakNote says at which x a throughput series peaks.
func peakNote(sr *perfkit.Series, label string) string {
	if sr == nil || len(sr.Points) == 0 {
		return ""
	}
	top := sr.Points[0]
	for _, p := range sr.Points {
		if p.Y > top.Y {
			top = p
		}
	}
	return fmt.Sprintf("%s throughput peaks at %.0f clients with %.0f req/s.", label, top.X, top.Y)
}
