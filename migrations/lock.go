package migrations

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// LockKey identifies our migration lock among PostgreSQL advisory locks ("usersvc" in ASCII).
// It is a session-level lock scoped to the current database; exported so tests (and an
// operator's psql session) can hold it.
const LockKey int64 = 0x7573657273766300

// ErrLockTimeout means another process held the migration lock for longer than the timeout.
var ErrLockTimeout = errors.New("migrations: timed out waiting for the migration lock (another instance is migrating)")

// withLock runs fn on one dedicated connection while holding a session-level advisory lock,
// so instances that start together migrate one after the other (gormigrate has no lock: its
// issue #38). The lock is taken by polling pg_try_advisory_lock rather than blocking in
// pg_advisory_lock, so the wait is bounded by timeout and not cut short by the connection's
// statement_timeout.
func withLock(ctx context.Context, gdb *gorm.DB, timeout time.Duration, fn func(conn *gorm.DB) error) error {
	return gdb.WithContext(ctx).Connection(func(conn *gorm.DB) error {
		// Connection hands over a statement-level instance; a fresh session keeps one
		// statement's clauses from leaking into the next.
		conn = conn.Session(&gorm.Session{NewDB: true})
		if err := acquire(ctx, conn, timeout); err != nil {
			return err
		}
		defer release(ctx, conn)
		return fn(conn)
	})
}

func acquire(ctx context.Context, conn *gorm.DB, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	wait := 50 * time.Millisecond
	for {
		var got bool
		if err := conn.Raw("SELECT pg_try_advisory_lock(?)", LockKey).Scan(&got).Error; err != nil {
			return fmt.Errorf("migrations: take lock: %w", err)
		}
		if got {
			return nil
		}
		// Sleep at most until the deadline and try once more there, so the whole timeout is
		// waited even when the next backoff step would overshoot it.
		left := time.Until(deadline)
		if left <= 0 {
			return fmt.Errorf("%w: waited %s", ErrLockTimeout, timeout)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("migrations: take lock: %w", ctx.Err())
		case <-time.After(min(wait, left)):
		}
		wait = min(wait*2, time.Second)
	}
}

// release unlocks; if that fails the connection is discarded instead of going back to the
// pool, because a pooled connection still holding the lock would block every later run.
func release(ctx context.Context, conn *gorm.DB) {
	err := conn.WithContext(context.WithoutCancel(ctx)).Exec("SELECT pg_advisory_unlock(?)", LockKey).Error
	if err == nil {
		return
	}
	if c, ok := conn.Statement.ConnPool.(*sql.Conn); ok {
		_ = c.Raw(func(any) error { return driver.ErrBadConn })
	}
}
