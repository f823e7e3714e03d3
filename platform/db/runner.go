package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"time"

	"log/slog"

	"gorm.io/gorm"

	"usersvc/platform/apperr"
	"usersvc/platform/requestid"
	"usersvc/platform/resilience"
)

// ErrOutcomeUnknown means the connection failed while COMMIT was in flight: the transaction
// may or may not have committed. It is never retried and not counted by the breaker; the
// client is told to retry with the same Idempotency-Key, which makes the retry safe.
var ErrOutcomeUnknown = resilience.ErrOutcomeUnknown

// Runner is how modules reach the database: Transact for every write, Read for queries. The
// layers, outermost first:
//
//	budget (a deadline for the whole operation) → circuit breaker (one outcome per call;
//	rejects at once while open) → retry (backoff with jitter, throttled by a retry budget
//	shared by all calls) → one attempt
//
// Transact retries a transaction that collided with another (serialization failure,
// deadlock, lock not available) or lost its connection before COMMIT was sent: PostgreSQL
// rolled it back, so running the closure again is safe. A failure during COMMIT is never
// retried (ErrOutcomeUnknown). Read also retries on unavailability. A retry after a lost
// connection does not draw another dead one: the pool pings connections idle since the
// loss before reusing them (see lossWatch). What is left becomes a
// domain error: apperr.ErrUnavailable (503) for unavailability, timeouts, lasting contention
// and an open breaker; apperr.ErrInvalid (400) for values the database rejects. The driver
// error stays in the chain for logs.
type Runner struct {
	db     *gorm.DB
	cfg    RunnerConfig
	module any // the module's name, tagged on the context of every statement (see For); nil: none
}

// RunnerConfig is what a Runner is built from.
type RunnerConfig struct {
	Retry resilience.RetryPolicy
	// RetryBudget, shared by every operation, stops retrying while most attempts fail (nil:
	// no budget).
	RetryBudget *resilience.RetryBudget
	Breaker     *resilience.Breaker
	// Budget bounds each Transact or Read, retries included (0: only the caller's deadline).
	Budget  time.Duration
	Logger  *slog.Logger // failed attempts, with the request id; nil: discard
	Metrics *Metrics     // nil: none
	// TxStatementTimeout, when positive, is set with SET LOCAL at the start of each
	// transaction: behind a transaction-mode pooler, where the connection's startup
	// parameter cannot carry it (see Config.TransactionPooling). 0: the connection's own.
	TxStatementTimeout time.Duration
	// Replicas, when set, serve the reads whose context allows it (ReadFromReplica), and
	// each transaction records its WAL position for contexts that ask (RecordCommits).
	Replicas *Replicas
}

// NewRunner returns a Runner over gdb.
func NewRunner(gdb *gorm.DB, cfg RunnerConfig) *Runner {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Runner{db: gdb, cfg: cfg}
}

// For returns the Runner of one module: the same pool and layers, with the module's name on
// the context of every statement it runs, for logs and the table-ownership check
// (ModuleOf).
func (r *Runner) For(module string) *Runner {
	c := *r
	c.module = module // boxed once here, so tagging a context costs one allocation, not two
	return &c
}

type moduleKey struct{}

// ModuleOf names the module whose Runner runs the statement with context ctx; "" for the
// platform's own statements.
func ModuleOf(ctx context.Context) string {
	m, _ := ctx.Value(moduleKey{}).(string)
	return m
}

// tag puts the Runner's module on ctx.
func (r *Runner) tag(ctx context.Context) context.Context {
	if r.module == nil || ctx.Value(moduleKey{}) == r.module {
		return ctx
	}
	return context.WithValue(ctx, moduleKey{}, r.module)
}

type txKey struct{}

// WithTx returns ctx carrying tx: Transact and Read called with it join tx instead of starting
// work of their own; whoever began tx owns its commit, retries and breaker. The idempotency
// layer uses it to store a response in the transaction of the write that produced it.
func WithTx(ctx context.Context, tx *gorm.DB) context.Context {
	return context.WithValue(ctx, txKey{}, tx)
}

// Transact runs fn in one transaction: committed when fn returns nil, rolled back otherwise.
// fn may run more than once, so it must not keep state from an earlier run. It must return
// each statement's error as soon as it happens (GORM joins a second error into text, hiding
// the first one's type from the classifier).
func (r *Runner) Transact(ctx context.Context, fn func(tx *gorm.DB) error) error {
	ctx = r.tag(ctx)
	if tx, ok := ctx.Value(txKey{}).(*gorm.DB); ok {
		// Joined: a savepoint, so a failure (a 409, say) leaves the outer transaction usable.
		return domainError(tx.WithContext(ctx).Transaction(fn))
	}
	err := r.run(ctx, "transact", retryableWrite, func(ctx context.Context) error { return r.transactOnce(ctx, fn) })
	if err == nil && r.cfg.Replicas != nil {
		recordCommit(ctx, r.db, r.cfg.Logger)
	}
	return err
}

// Read runs fn outside a transaction, for queries.
func (r *Runner) Read(ctx context.Context, fn func(db *gorm.DB) error) error {
	ctx = r.tag(ctx)
	if tx, ok := ctx.Value(txKey{}).(*gorm.DB); ok {
		return domainError(fn(tx.WithContext(ctx))) // joined: sees the outer transaction's writes
	}
	if r.cfg.Replicas != nil { // first: without replicas a read pays no context lookup
		if served, err := r.cfg.Replicas.read(ctx, fn); served {
			err = domainError(err)
			r.cfg.Metrics.operation("read", outcome(err))
			return err
		}
	}
	return r.run(ctx, "read", retryableRead, func(ctx context.Context) error { return fn(r.db.WithContext(ctx)) })
}

func (r *Runner) run(ctx context.Context, op string, retryable func(error) bool, attempt func(context.Context) error) error {
	if r.cfg.Budget > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, r.cfg.Budget)
		defer cancel()
	}
	n := 0
	// A retry storm — many callers failing at once — must not multiply the load on a failing
	// database by MaxAttempts: retrying stops when the shared budget runs low or the breaker
	// has opened meanwhile, so each caller costs about one attempt.
	retry := func(err error) bool {
		if !retryable(err) || r.cfg.Breaker.State() == resilience.StateOpen {
			return false
		}
		return resilience.Classify(err) == resilience.ClassContention || r.cfg.RetryBudget.Allow()
	}
	err := r.cfg.Breaker.Do(ctx, func(ctx context.Context) error {
		_, err := r.cfg.Retry.Do(ctx, retry, func(ctx context.Context) error {
			n++
			err := attempt(ctx)
			r.observe(ctx, op, n, err, retry)
			return err
		})
		return err
	})
	err = domainError(err)
	r.cfg.Metrics.operation(op, outcome(err))
	return err
}

// observe counts an attempt and logs a failed one, with the request id, when it is the kind
// that is retried, so an operator can follow a request through its retries.
func (r *Runner) observe(ctx context.Context, op string, n int, err error, retryable func(error) bool) {
	class := resilience.Classify(err)
	r.cfg.Metrics.attempt(op, class.String())
	switch class {
	case resilience.ClassNone:
		r.cfg.RetryBudget.Succeeded()
	case resilience.ClassUnavailable, resilience.ClassTimeout:
		// Only a failing database drains the budget. Contention on a healthy one is retried
		// whatever the budget says, and a lost connection takes nothing (both are bounded by
		// MaxAttempts per call): a server that is really down fails the retry's connect,
		// which does drain it.
		r.cfg.RetryBudget.Failed()
	}
	if err != nil && retryable(err) {
		r.cfg.Logger.WarnContext(ctx, "database attempt failed", "request_id", requestid.From(ctx),
			"op", op, "attempt", n, "class", class.String(), "err", err)
	}
}

// outcome names an operation's final result for the metrics.
func outcome(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, resilience.ErrBreakerOpen):
		return "rejected_open"
	case errors.Is(err, ErrOutcomeUnknown):
		return "outcome_unknown"
	case errors.Is(err, apperr.ErrUnavailable):
		return "unavailable"
	case errors.Is(err, apperr.ErrInvalid):
		return "invalid"
	}
	return resilience.Classify(err).String()
}

// transactOnce is one attempt: BEGIN, fn, COMMIT, telling a failed COMMIT apart.
func (r *Runner) transactOnce(ctx context.Context, fn func(tx *gorm.DB) error) (err error) {
	tx := r.db.WithContext(ctx).Begin()
	if tx.Error != nil {
		return tx.Error
	}
	committed := false
	defer func() {
		if !committed {
			tx.Rollback() // also on panic; a rollback error changes nothing for the caller
		}
	}()
	if ms := r.cfg.TxStatementTimeout.Milliseconds(); ms > 0 {
		if err := tx.Exec("SET LOCAL statement_timeout = " + strconv.FormatInt(ms, 10)).Error; err != nil {
			return expired(ctx, err)
		}
	}
	if err := fn(tx); err != nil {
		return expired(ctx, err)
	}
	// Past the deadline database/sql has rolled the transaction back (or will, instead of
	// sending COMMIT): a plain timeout, not an unknown outcome.
	if ctx.Err() != nil {
		return context.Cause(ctx)
	}
	committed = true
	if err := tx.Commit().Error; err != nil {
		if errors.Is(err, sql.ErrTxDone) && ctx.Err() != nil {
			return expired(ctx, err) // rolled back by database/sql when ctx ended; COMMIT never sent
		}
		switch resilience.Classify(err) {
		case resilience.ClassConnectionLost, resilience.ClassUnavailable, resilience.ClassTimeout, resilience.ClassCallerGone:
			return fmt.Errorf("%w: %w", ErrOutcomeUnknown, err)
		}
		return err // e.g. a deferred constraint or serialization failure: rolled back
	}
	return nil
}

// expired names the context's end as the cause of err when the attempt's context is over:
// the statement that failed with, say, sql.ErrTxDone failed because time ran out (a timeout)
// or the caller left, not because of a bug.
func expired(ctx context.Context, err error) error {
	if ctx.Err() == nil {
		return err
	}
	return fmt.Errorf("%w: %w", context.Cause(ctx), err)
}

func retryableWrite(err error) bool {
	switch resilience.Classify(err) {
	case resilience.ClassContention:
		return true
	case resilience.ClassConnectionLost, resilience.ClassUnavailable:
		return true // lost before COMMIT (a lost COMMIT is ClassOutcomeUnknown): rolled back
	}
	return false
}

func retryableRead(err error) bool {
	switch resilience.Classify(err) {
	case resilience.ClassContention, resilience.ClassConnectionLost, resilience.ClassUnavailable:
		return true
	}
	return false
}

func domainError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, resilience.ErrBreakerOpen):
		return fmt.Errorf("%w: %w", apperr.Unavailable("the database is failing; requests are held back for a moment"), err)
	case errors.Is(err, ErrOutcomeUnknown):
		return fmt.Errorf("%w: %w", apperr.Unavailable("outcome unknown: the connection was lost while committing, "+
			"so the change may or may not have been applied; retry with the same Idempotency-Key "+
			"(without one, check before retrying)"), err)
	}
	switch resilience.Classify(err) {
	case resilience.ClassConnectionLost, resilience.ClassUnavailable, resilience.ClassTimeout:
		return fmt.Errorf("%w: %w", apperr.ErrUnavailable, err)
	case resilience.ClassContention:
		return fmt.Errorf("%w: %w", apperr.Unavailable("the database is busy with conflicting changes; retry"), err)
	case resilience.ClassClient:
		if resilience.BadValue(err) {
			return fmt.Errorf("%w: %w", apperr.Invalid("a value is not acceptable to the database"), err)
		}
	}
	return err
}
