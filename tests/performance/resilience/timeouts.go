package resilience

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"usersvc/modules/users"
	"usersvc/platform/apperr"
	svcres "usersvc/platform/resilience"
	"usersvc/tests/performance/perfkit"
)

// timeoutSlack is what the deadline check allows beyond resilience.operation_timeout: the
// time between the deadline firing and the caller's goroutine running again.
const timeoutSlack = 100 * time.Millisecond

// hangMS is how long the trigger sleeps: longer than statement_timeout and than the
// operation deadline, so only those can end a statement.
const hangMS = 5000

type timeoutRun struct {
	label                     string
	callers                   int
	timedOut, rejected, other int
	lost                      int // 503 for a connection database/sql discarded at the deadline
	ok                        int
	lat                       latencies
	errs                      errOther
}

// timeouts is part (c): every insert hangs; callers (three times the pool) arrive at once.
// Once with the default statement_timeout, once with it disabled so that only the
// operation deadline can end the wait.
func (r *retrySuite) timeouts(ctx context.Context) error {
	callers := 3 * r.env.PoolSize
	def, err := r.timeoutPass(ctx, "c1", callers, fmt.Sprintf("statement_timeout %s (default)", r.cfg.Database.StatementTimeout))
	if err != nil {
		return err
	}
	off, err := r.timeoutPass(ctx, "c2", callers, "statement_timeout off", setting("DATABASE__STATEMENT_TIMEOUT", "0s"))
	if err != nil {
		return err
	}
	budget := r.cfg.Resilience.OperationTimeout
	s := r.s
	t := perfkit.Table{
		Caption: fmt.Sprintf("(c) Every insert hangs (pg_sleep %d ms in the trigger); %d Register calls at once, pool %d, "+
			"resilience.operation_timeout %s", hangMS, callers, r.env.PoolSize, budget),
		Header: []string{"Variant", "Callers", "503 timeout", "503 connection discarded", "503 rejected by open breaker", "OK", "Other", "p50", "p99", "Max", "Max vs operation_timeout"},
	}
	met := true
	for _, run := range []*timeoutRun{def, off} {
		m := run.lat.max()
		met = met && m <= budget+timeoutSlack
		t.Rows = append(t.Rows, []string{run.label, itoa(run.callers), itoa(run.timedOut), itoa(run.lost), itoa(run.rejected), itoa(run.ok), itoa(run.other),
			fmtMS(run.lat.quantile(0.5)), fmtMS(run.lat.quantile(0.99)), fmtMS(m), fmt.Sprintf("%+.1f ms", ms(m-budget))})
		if n := run.errs.note(run.label); n != "" {
			s.Notes = append(s.Notes, n)
		}
	}
	s.Tables = append(s.Tables, t)
	s.Metric("timeout_max_ms", ms(def.lat.max()))
	s.Metric("timeout_max_ms_no_statement_timeout", ms(off.lat.max()))
	target := perfkit.Target{Name: "Hanging statements: no caller waits beyond resilience.operation_timeout",
		Want: fmt.Sprintf("max ≤ %s (+%s scheduling slack)", budget, timeoutSlack),
		Got:  fmt.Sprintf("max %s / %s", fmtMS(def.lat.max()), fmtMS(off.lat.max())), Met: met}
	if !met {
		target.Gap = fmt.Sprintf("%s over", fmtMS(max(def.lat.max(), off.lat.max())-budget))
	}
	s.Targets = append(s.Targets, target)
	s.Notes = append(s.Notes, fmt.Sprintf("Timeouts: the calls holding a connection are cut by statement_timeout (%s) "+
		"or, with it off, by the operation deadline (%s); the calls queued for one of the %d pooled connections get "+
		"the rest of their deadline, so every caller is answered by about %s. A statement timeout is not retried and "+
		"counts as a breaker failure, so later callers are rejected at once. A few callers whose deadline fired while "+
		"their connection was busy get database/sql's \"bad connection\" (the connection is discarded) instead of a "+
		"timeout error: a 503 all the same, inside the deadline.",
		r.cfg.Database.StatementTimeout, budget, r.env.PoolSize, budget))
	return nil
}

func (r *retrySuite) timeoutPass(ctx context.Context, phase string, callers int, label string, extra ...string) (*timeoutRun, error) {
	a, repo, err := perfkit.OpenRepository(ctx, r.dbURL, r.env.PoolSize, extra...)
	if err != nil {
		return nil, err
	}
	defer a.Close()
	if err := r.f.set(ctx, fault{sleepMS: hangMS}); err != nil {
		return nil, err
	}
	run := &timeoutRun{label: label, callers: callers}
	tag := r.phaseTag(phase)
	var mu sync.Mutex
	var wg sync.WaitGroup
	release := make(chan struct{})
	for i := range callers {
		wg.Go(func() {
			<-release
			name := workerName(maxWorker, tag, i)
			t0 := time.Now()
			_, err := repo.Register(ctx, users.Registration{Username: name, Email: name + "@perf.example.com"})
			took := time.Since(t0)
			mu.Lock()
			defer mu.Unlock()
			run.lat.add(took)
			switch {
			case err == nil:
				run.ok++
			case errors.Is(err, svcres.ErrBreakerOpen):
				run.rejected++
			case svcres.Classify(err) == svcres.ClassTimeout:
				run.timedOut++
			case errors.Is(err, apperr.ErrUnavailable):
				run.lost++
			default:
				run.other++
				run.errs.keep(err)
			}
		})
	}
	close(release)
	wg.Wait()
	if err := r.f.set(ctx, fault{}); err != nil {
		return nil, err
	}
	// Statements the deadline abandoned may still sleep on the server; end them.
	_, err = r.f.pool.Exec(ctx, `SELECT pg_cancel_backend(pid) FROM pg_stat_activity
		WHERE datname = current_database() AND application_name = $1 AND state = 'active'`, perfkit.ApplicationName)
	return run, err
}
