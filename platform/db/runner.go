package db

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"

	"usersvc/platform/apperr"
	"usersvc/platform/resilience"
)

// ErrOutcomeUnknown means the connection failed while COMMIT was in flight: the transaction
// may or may not have committed. It is never retried; the client is told to retry with the
// same Idempotency-Key, which makes the retry safe.
var ErrOutcomeUnknown = errors.New("db: connection lost during COMMIT: outcome unknown")

// Runner is how modules reach the database: Transact for every write, Read for queries. The
// layers, outermost first:
//
//	budget (a deadline for the whole operation) → circuit breaker (one outcome per call;
//	rejects at once while open) → retry (backoff with jitter) → one attempt
//
// Transact retries a transaction that collided with another (serialization failure,
// deadlock, lock not available) or lost its connection before COMMIT was sent: PostgreSQL
// rolled it back, so running the closure again is safe. A failure during COMMIT is never
// retried (ErrOutcomeUnknown). Read also retries on unavailability. What is left becomes a
// domain error: apperr.ErrUnavailable (503) for unavailability, timeouts, lasting contention
// and an open breaker; apperr.ErrInvalid (400) for values the database rejects. The driver
// error stays in the chain for logs.
type Runner struct {
	db      *gorm.DB
	retry   resilience.RetryPolicy
	breaker *resilience.Breaker
	budget  time.Duration
}

// NewRunner returns a Runner over gdb. budget bounds each Transact or Read, retries included
// (0: only the caller's deadline).
func NewRunner(gdb *gorm.DB, retry resilience.RetryPolicy, breaker *resilience.Breaker, budget time.Duration) *Runner {
	return &Runner{db: gdb, retry: retry, breaker: breaker, budget: budget}
}

// Transact runs fn in one transaction: committed when fn returns nil, rolled back otherwise.
// fn may run more than once, so it must not keep state from an earlier run. It must return
// each statement's error as soon as it happens (GORM joins a second error into text, hiding
// the first one's type from the classifier).
func (r *Runner) Transact(ctx context.Context, fn func(tx *gorm.DB) error) error {
	return r.run(ctx, retryableWrite, func(ctx context.Context) error { return r.transactOnce(ctx, fn) })
}

// Read runs fn outside a transaction, for queries.
func (r *Runner) Read(ctx context.Context, fn func(db *gorm.DB) error) error {
	return r.run(ctx, retryableRead, func(ctx context.Context) error { return fn(r.db.WithContext(ctx)) })
}

func (r *Runner) run(ctx context.Context, retryable func(error) bool, attempt func(context.Context) error) error {
	if r.budget > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, r.budget)
		defer cancel()
	}
	err := r.breaker.Do(ctx, func(ctx context.Context) error {
		_, err := r.retry.Do(ctx, retryable, attempt)
		return err
	})
	return domainError(err)
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
	if err := fn(tx); err != nil {
		return err
	}
	committed = true
	if err := tx.Commit().Error; err != nil {
		switch resilience.Classify(err) {
		case resilience.ClassUnavailable, resilience.ClassTimeout, resilience.ClassCallerGone:
			return fmt.Errorf("%w: %w", ErrOutcomeUnknown, err)
		}
		return err // e.g. a deferred constraint or serialization failure: rolled back
	}
	return nil
}

func retryableWrite(err error) bool {
	switch resilience.Classify(err) {
	case resilience.ClassContention:
		return true
	case resilience.ClassUnavailable:
		return !errors.Is(err, ErrOutcomeUnknown) // lost before COMMIT: rolled back
	}
	return false
}

func retryableRead(err error) bool {
	switch resilience.Classify(err) {
	case resilience.ClassContention, resilience.ClassUnavailable:
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
		return fmt.Errorf("%w: %w", apperr.Unavailable("outcome unknown: the connection was lost while committing; retry with the same Idempotency-Key"), err)
	}
	switch resilience.Classify(err) {
	case resilience.ClassUnavailable, resilience.ClassTimeout:
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
