package resilience

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"usersvc/modules/users"
	"usersvc/platform/apperr"
	"usersvc/tests/performance/perfkit"
)

const (
	transientRate = 0.3 // share of attempts the trigger fails with 40001
	// allSucceedAttempts is the max_attempts that makes every operation succeed at 30%:
	// an operation still fails with probability 0.3^8 ≈ 6.6e-5.
	allSucceedAttempts = 8
)

// transientRun is one pass of Register operations under 30% injected 40001s.
type transientRun struct {
	maxAttempts int
	ops, ok     int
	unavailable int // 503: still colliding after max_attempts
	other       int
	perOp       map[int]int // attempts → operations
	attempts    int64       // sum of the per-operation counts
	triggerSeen int64       // the trigger's own total over the pass (a cross-check)
	lat         latencies
	wall        time.Duration
	errs        errOther
}

// transient is part (a): 30% transient failures at pool-size concurrency, once with the
// defaults and once with max_attempts 8, where only chance failures (0.3^8 of them) may remain.
func (r *retrySuite) transient(ctx context.Context) error {
	ops := sized(r.env, 600, 4000)
	def, err := r.transientPass(ctx, "a3", ops, r.cfg.Resilience.Retry.MaxAttempts)
	if err != nil {
		return err
	}
	all, err := r.transientPass(ctx, "a8", ops, allSucceedAttempts)
	if err != nil {
		return err
	}
	r.transientReport(def, all)
	return nil
}

func (r *retrySuite) transientPass(ctx context.Context, phase string, ops, maxAttempts int) (*transientRun, error) {
	a, repo, err := perfkit.OpenRepository(ctx, r.dbURL, r.env.PoolSize, setting("RESILIENCE__RETRY__MAX_ATTEMPTS", maxAttempts))
	if err != nil {
		return nil, err
	}
	defer a.Close()
	if err := r.f.set(ctx, fault{failRate: transientRate}); err != nil {
		return nil, err
	}
	before, err := r.f.total(ctx)
	if err != nil {
		return nil, err
	}
	run := &transientRun{maxAttempts: maxAttempts, ops: ops, perOp: map[int]int{}}
	var mu sync.Mutex
	var next atomic.Int64
	tag := r.phaseTag(phase)
	start := time.Now()
	g, gctx := errgroup.WithContext(ctx)
	for w := range min(r.env.PoolSize, maxWorker+1) {
		g.Go(func() error {
			c, err := r.f.pool.Acquire(gctx)
			if err != nil {
				return err
			}
			defer c.Release()
			prev, err := seqValue(gctx, c, workerSeq(w))
			if err != nil {
				return err
			}
			for i := int(next.Add(1)); i <= ops; i = int(next.Add(1)) {
				name := workerName(w, tag, i)
				t0 := time.Now()
				_, opErr := repo.Register(gctx, users.Registration{Username: name, Email: name + "@perf.example.com", FullName: "Perf Retry"})
				took := time.Since(t0)
				v, err := seqValue(gctx, c, workerSeq(w))
				if err != nil {
					return err
				}
				mu.Lock()
				run.record(opErr, int(v-prev), took)
				mu.Unlock()
				prev = v
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	run.wall = time.Since(start)
	after, err := r.f.total(ctx)
	if err != nil {
		return nil, err
	}
	run.triggerSeen = after - before
	return run, r.f.set(ctx, fault{})
}

func (run *transientRun) record(err error, attempts int, took time.Duration) {
	switch {
	case err == nil:
		run.ok++
	case errors.Is(err, apperr.ErrUnavailable):
		run.unavailable++
	default:
		run.other++
		run.errs.keep(err)
	}
	run.perOp[attempts]++
	run.attempts += int64(attempts)
	run.lat.add(took)
}

func (run *transientRun) successPct() float64 { return pct(run.ok, run.ops) }

func (r *retrySuite) transientReport(def, all *transientRun) {
	s := r.s
	row := func(label string, run *transientRun) []string {
		expFail := math.Pow(transientRate, float64(run.maxAttempts))
		return []string{label, itoa(run.ops), itoa(run.ok), itoa(run.unavailable + run.other),
			fmt.Sprintf("%.2f%%", run.successPct()), fmt.Sprintf("%.4f%% (%.2f ops)", 100*expFail, expFail*float64(run.ops)),
			fmt.Sprint(run.attempts), fmt.Sprintf("%.3f", float64(run.attempts)/float64(run.ops)),
			fmtMS(run.lat.quantile(0.5)), fmtMS(run.lat.quantile(0.99)), fmtMS(run.lat.max()),
			fmt.Sprintf("%.0f", float64(run.ops)/run.wall.Seconds())}
	}
	s.Tables = append(s.Tables, perfkit.Table{
		Caption: fmt.Sprintf("(a) 30%% of insert attempts fail with SQLSTATE 40001 (serialization failure); "+
			"Register (user + event in one transaction) at %d concurrent workers (the pool size)", r.env.PoolSize),
		Header: []string{"Setting", "Operations", "Succeeded", "Failed (503)", "Success", "Expected failures (0.3^max_attempts)",
			"Attempts", "Attempts/op", "p50", "p99", "Max", "ops/s"},
		Rows: [][]string{
			row(fmt.Sprintf("defaults (max_attempts %d)", def.maxAttempts), def),
			row(fmt.Sprintf("max_attempts %d", all.maxAttempts), all),
		},
	})
	s.Tables = append(s.Tables, attemptsTable(def, all))
	s.Higher("retry_30pct_success_pct", def.successPct())
	s.Higher("retry_30pct_success_pct_max8", all.successPct())
	s.Metric("retry_30pct_attempts_per_op", float64(def.attempts)/float64(def.ops))
	// Even 8 attempts leave 0.3^8 of the operations failing by chance (0.26 of 4000 expected):
	// the bound is what that chance allows, short of a 1-in-1000 fluke, not zero.
	failed := all.ops - all.ok
	bound := chanceBound(float64(all.ops)*math.Pow(transientRate, float64(all.maxAttempts)), 0.001)
	t := perfkit.Target{Name: "30% transient failures: with retries, operations fail only when every attempt collides",
		Want: fmt.Sprintf("≤ %d of %d failed (max_attempts %d; chance allows that many, p < 0.001)", bound, all.ops, allSucceedAttempts),
		Got:  fmt.Sprintf("%d failed (%.3f%% succeeded)", failed, all.successPct()), Met: failed <= bound}
	if !t.Met {
		t.Gap = fmt.Sprintf("%d more than chance allows", failed-bound)
	}
	s.Targets = append(s.Targets, t)
	s.Notes = append(s.Notes,
		fmt.Sprintf("With the defaults (max_attempts %d) an operation fails when all its attempts collide: "+
			"0.3^%d = %.1f%% expected; measured %.2f%% (%d of %d answered 503 with Retry-After). "+
			"Raising resilience.retry.max_attempts to %d (USERSVC_RESILIENCE__RETRY__MAX_ATTEMPTS=%d) made %d of %d succeed "+
			"(0.3^%d ≈ 0.007%% expected to fail); the price is the tail: an operation that needs all %d attempts waits "+
			"%s of backoff first, still inside max_elapsed and operation_timeout (max measured %s).",
			def.maxAttempts, def.maxAttempts, 100*math.Pow(transientRate, float64(def.maxAttempts)), 100-def.successPct(),
			def.ops-def.ok, def.ops, allSucceedAttempts, allSucceedAttempts, all.ok, all.ops, allSucceedAttempts,
			allSucceedAttempts, r.waits(allSucceedAttempts), fmtMS(all.lat.max())),
		fmt.Sprintf("Attempt counts are exact: the trigger bumps a sequence per worker on every attempt (sequences "+
			"are not rolled back); the per-operation counts add up to %d and %d, the trigger's own totals are %d and %d.",
			def.attempts, all.attempts, def.triggerSeen, all.triggerSeen),
		"Contention (40001/40P01/55P03) is retried whatever the shared retry budget says and is not counted by the "+
			"breaker: the database is healthy, the transactions just collided.")
	for _, n := range []string{def.errs.note("defaults"), all.errs.note("max_attempts 8")} {
		if n != "" {
			s.Notes = append(s.Notes, n)
		}
	}
}

// attemptsTable is the distribution of attempts per operation, beside what a 30% failure
// rate predicts: k attempts with probability 0.7·0.3^(k−1), the last allowed attempt
// taking the whole tail 0.3^(max−1).
func attemptsTable(runs ...*transientRun) perfkit.Table {
	var ks []int
	for _, run := range runs {
		for k := range run.perOp {
			if !slices.Contains(ks, k) {
				ks = append(ks, k)
			}
		}
	}
	slices.Sort(ks)
	header := []string{"Attempts"}
	for _, run := range runs {
		header = append(header, fmt.Sprintf("max_attempts %d: operations", run.maxAttempts), "share", "expected")
	}
	t := perfkit.Table{Caption: "(a) Attempts per operation under 30% injected 40001s", Header: header}
	for _, k := range ks {
		row := []string{itoa(k)}
		for _, run := range runs {
			exp := 0.0
			switch {
			case k < run.maxAttempts:
				exp = (1 - transientRate) * math.Pow(transientRate, float64(k-1))
			case k == run.maxAttempts:
				exp = math.Pow(transientRate, float64(k-1))
			}
			row = append(row, itoa(run.perOp[k]), fmt.Sprintf("%.2f%%", pct(run.perOp[k], run.ops)), fmt.Sprintf("%.2f%%", 100*exp))
		}
		t.Rows = append(t.Rows, row)
	}
	return t
}

// waits is the nominal backoff before the last of attempts tries: initial_backoff doubling,
// each capped at max_backoff.
func (r *retrySuite) waits(attempts int) time.Duration {
	rc := r.cfg.Resilience.Retry
	var sum time.Duration
	for i := range attempts - 1 {
		sum += min(rc.InitialBackoff<<i, rc.MaxBackoff)
	}
	return sum
}

// chanceBound is the smallest k with P(X > k) < p for X ~ Poisson(mean): how many failures
// a run may see by chance alone.
func chanceBound(mean, p float64) int {
	term := math.Exp(-mean) // P(X = 0)
	cdf := term
	k := 0
	for 1-cdf >= p {
		k++
		term *= mean / float64(k)
		cdf += term
	}
	return k
}
