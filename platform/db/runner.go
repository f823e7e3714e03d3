package db

import (
	"context"
	"fmt"

	"gorm.io/gorm"

	"usersvc/platform/apperr"
	"usersvc/platform/resilience"
)

// Runner is how modules reach the database: Transact for every write, Read for queries. It
// retries a transaction that collided with another (serialization failure, deadlock, lock
// not available: the database rolled it back, so running the closure again is safe), and
// turns what is left into domain errors: unavailability and timeouts into
// apperr.ErrUnavailable (503), values the database rejects into apperr.ErrInvalid (400). The
// driver error stays in the chain for logs. It is the seam where circuit breaking will wrap
// database work, so modules never handle either themselves.
type Runner struct {
	db    *gorm.DB
	retry resilience.RetryPolicy
}

// NewRunner returns a Runner over gdb that retries contention by retry.
func NewRunner(gdb *gorm.DB, retry resilience.RetryPolicy) *Runner {
	return &Runner{db: gdb, retry: retry}
}

// Transact runs fn in one transaction: committed when fn returns nil, rolled back otherwise.
// fn may run more than once, so it must not keep state from an earlier run. It must return
// each statement's error as soon as it happens (GORM joins a second error into text, hiding
// the first one's type from the classifier).
func (r *Runner) Transact(ctx context.Context, fn func(tx *gorm.DB) error) error {
	_, err := r.retry.Do(ctx, isContention, func(ctx context.Context) error {
		return r.db.WithContext(ctx).Transaction(fn)
	})
	return domainError(err)
}

// Read runs fn outside a transaction, for queries.
func (r *Runner) Read(ctx context.Context, fn func(db *gorm.DB) error) error {
	return domainError(fn(r.db.WithContext(ctx)))
}

func isContention(err error) bool { return resilience.Classify(err) == resilience.ClassContention }

func domainError(err error) error {
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
