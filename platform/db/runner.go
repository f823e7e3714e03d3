package db

import (
	"context"
	"fmt"

	"gorm.io/gorm"

	"usersvc/platform/apperr"
	"usersvc/platform/resilience"
)

// Runner is how modules reach the database: Transact for every write, Read for queries. It
// turns infrastructure failures into apperr.ErrUnavailable (answered 503) while keeping the
// driver error in the chain for logs. It is the seam where retry and circuit breaking wrap
// database work, so modules never handle either themselves.
type Runner struct {
	db *gorm.DB
}

// NewRunner returns a Runner over gdb.
func NewRunner(gdb *gorm.DB) *Runner { return &Runner{db: gdb} }

// Transact runs fn in one transaction: committed when fn returns nil, rolled back otherwise.
// fn must return each statement's error as soon as it happens (GORM joins a second error
// into text, hiding the first one's type from the classifier).
func (r *Runner) Transact(ctx context.Context, fn func(tx *gorm.DB) error) error {
	return classify(r.db.WithContext(ctx).Transaction(fn))
}

// Read runs fn outside a transaction, for queries.
func (r *Runner) Read(ctx context.Context, fn func(db *gorm.DB) error) error {
	return classify(fn(r.db.WithContext(ctx)))
}

func classify(err error) error {
	switch resilience.Classify(err) {
	case resilience.ClassUnavailable, resilience.ClassTimeout:
		return fmt.Errorf("%w: %w", apperr.ErrUnavailable, err)
	default:
		return err
	}
}
