package db_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gorm.io/gorm"

	"usersvc/platform/apperr"
	"usersvc/platform/db"
	"usersvc/platform/resilience"
)

var retries = resilience.RetryPolicy{MaxAttempts: 3, InitialBackoff: 5 * time.Millisecond, MaxBackoff: 50 * time.Millisecond, MaxElapsed: 5 * time.Second}

// newRunner returns a Runner over gdb with a breaker that opens after threshold failures.
func newRunner(t *testing.T, threshold int64, budget time.Duration) (*db.Runner, *resilience.Breaker) {
	t.Helper()
	b, err := resilience.NewBreaker(resilience.BreakerConfig{
		FailureThreshold: threshold, Window: time.Minute, OpenTimeout: time.Minute,
		HalfOpenProbes: 1, HalfOpenSuccesses: 1,
	})
	require.NoError(t, err)
	return db.NewRunner(gdb, db.RunnerConfig{Retry: retries, Breaker: b, Budget: budget}), b
}

type account struct {
	ID      int64 `gorm:"primaryKey"`
	Balance int
}

func accounts(t *testing.T) {
	t.Helper()
	require.NoError(t, gdb.Migrator().DropTable(&account{}))
	require.NoError(t, gdb.AutoMigrate(&account{}))
	require.NoError(t, gdb.Create(&[]account{{ID: 1, Balance: 100}, {ID: 2, Balance: 100}}).Error)
}

// Two transfers lock the same two rows in opposite order; PostgreSQL kills one with a
// deadlock. Transact runs the victim's whole closure again, so both transfers succeed.
func TestTransactRetriesTheVictimOfADeadlock(t *testing.T) {
	accounts(t)
	r, _ := newRunner(t, 100, 0)
	var attempts atomic.Int32
	var firstLocks sync.WaitGroup
	firstLocks.Add(2)
	transfer := func(from, to int64) error {
		first := true
		return r.Transact(context.Background(), func(tx *gorm.DB) error {
			attempts.Add(1)
			if err := tx.Exec("UPDATE accounts SET balance = balance - 10 WHERE id = ?", from).Error; err != nil {
				return err
			}
			if first { // both hold their first row before either asks for the second
				first = false
				firstLocks.Done()
				firstLocks.Wait()
			}
			return tx.Exec("UPDATE accounts SET balance = balance + 10 WHERE id = ?", to).Error
		})
	}
	errs := make(chan error, 2)
	go func() { errs <- transfer(1, 2) }()
	go func() { errs <- transfer(2, 1) }()
	require.NoError(t, <-errs)
	require.NoError(t, <-errs)
	assert.Equal(t, int32(3), attempts.Load(), "one of the two ran twice")
	var total int
	require.NoError(t, gdb.Raw("SELECT sum(balance) FROM accounts").Scan(&total).Error)
	assert.Equal(t, 200, total)
}

func TestTransactGivesUpOnLastingContentionAs503(t *testing.T) {
	accounts(t)
	r, _ := newRunner(t, 100, 0)
	blocker := gdb.Begin()
	require.NoError(t, blocker.Exec("SELECT 1 FROM accounts WHERE id = 1 FOR UPDATE").Error)
	defer blocker.Rollback()
	var attempts int
	err := r.Transact(context.Background(), func(tx *gorm.DB) error {
		attempts++
		return tx.Exec("SELECT 1 FROM accounts WHERE id = 1 FOR UPDATE NOWAIT").Error // 55P03
	})
	require.ErrorIs(t, err, apperr.ErrUnavailable)
	assert.Equal(t, retries.MaxAttempts, attempts)
}

func TestRunnerMapsDatabaseErrorsToDomainErrors(t *testing.T) {
	r, _ := newRunner(t, 100, 0)
	err := r.Read(context.Background(), func(tx *gorm.DB) error {
		return tx.Exec("SELECT 'a\\x00'::bytea::text, convert_from('\\xff'::bytea, 'UTF8')").Error
	})
	assert.ErrorIs(t, err, apperr.ErrInvalid, "a value the database rejects is the request's fault")

	err = r.Transact(context.Background(), func(tx *gorm.DB) error {
		return tx.Exec("SET LOCAL statement_timeout = 50; SELECT pg_sleep(1)").Error
	})
	assert.ErrorIs(t, err, apperr.ErrUnavailable, "a statement timeout is a 503")

	attempts := 0
	err = r.Transact(context.Background(), func(tx *gorm.DB) error {
		attempts++
		return tx.Exec("SELECT 1/0").Error
	})
	assert.NotErrorIs(t, err, apperr.ErrUnavailable)
	assert.NotErrorIs(t, err, apperr.ErrInvalid)
	assert.Equal(t, 1, attempts, "a bug is not retried")
}

// A connection lost before COMMIT was sent leaves nothing committed: the whole transaction is
// run again, and the row is there exactly once.
func TestTransactRetriesAConnectionLostBeforeCommit(t *testing.T) {
	accounts(t)
	r, _ := newRunner(t, 100, 0)
	attempts := 0
	err := r.Transact(context.Background(), func(tx *gorm.DB) error {
		attempts++
		if err := tx.Exec("INSERT INTO accounts (id, balance) VALUES (3, 7)").Error; err != nil {
			return err
		}
		if attempts == 1 {
			return tx.Exec("SELECT pg_terminate_backend(pg_backend_pid())").Error // 57P01
		}
		return nil
	})
	require.NoError(t, err)
	assert.Equal(t, 2, attempts)
	var n int64
	require.NoError(t, gdb.Model(&account{}).Where("id = 3").Count(&n).Error)
	assert.EqualValues(t, 1, n)
}

// The breaker sits outside the retries: one failing call is one failure, and once open it
// rejects at once with a 503 without reaching the database. The database is unreachable: a
// proxy in front of it resets the pooled connections and refuses new ones.
func TestRunnerBreakerOpensAndRejectsFast(t *testing.T) {
	proxy := proxyTo(t)
	pool, _ := lossPool(t, proxy.url, "runner_unreachable", 2)
	b, err := resilience.NewBreaker(resilience.BreakerConfig{
		FailureThreshold: 2, Window: time.Minute, OpenTimeout: time.Minute, HalfOpenProbes: 1, HalfOpenSuccesses: 1,
	})
	require.NoError(t, err)
	r := db.NewRunner(pool, db.RunnerConfig{Retry: retries, Breaker: b})
	proxy.Refuse(true)
	proxy.ResetAll()
	// Sessions the proxy was asked for: pgx follows every failed connect with a
	// CancelRequest connection, which arrives on its own time; those are left out.
	sessions := func() int64 {
		for {
			n := proxy.Accepted() - proxy.Cancels()
			time.Sleep(20 * time.Millisecond)
			if n == proxy.Accepted()-proxy.Cancels() {
				return n
			}
		}
	}
	before := sessions()
	calls := 0
	read := func(tx *gorm.DB) error {
		calls++
		return tx.Exec("SELECT 1").Error
	}
	for i := 0; i < 2; i++ {
		err := r.Read(context.Background(), read)
		require.ErrorIs(t, err, apperr.ErrUnavailable)
		assert.Equal(t, resilience.ClassUnavailable, resilience.Classify(err), "%v", err)
	}
	assert.Equal(t, 2*retries.MaxAttempts, calls, "each call retried; each counted once")
	require.Equal(t, resilience.StateOpen, b.State())

	tried := sessions()
	assert.Greater(t, tried, before, "the calls did try to connect")
	start := time.Now()
	err = r.Read(context.Background(), read)
	assert.ErrorIs(t, err, apperr.ErrUnavailable)
	assert.ErrorIs(t, err, resilience.ErrBreakerOpen)
	assert.Less(t, time.Since(start), 50*time.Millisecond)
	assert.Equal(t, 2*retries.MaxAttempts, calls, "not called while open")
	assert.Equal(t, tried, sessions(), "no connection attempted while open")
}

// A connection lost under a statement, on a database that is up: the attempt is retried on
// a live connection, and however often it happens the breaker does not open (a new
// connection works) and the shared retry budget is not drained.
func TestLostConnectionsAreRetriedAndDoNotOpenTheBreaker(t *testing.T) {
	b, err := resilience.NewBreaker(resilience.BreakerConfig{
		FailureThreshold: 2, Window: time.Minute, OpenTimeout: time.Minute, HalfOpenProbes: 1, HalfOpenSuccesses: 1,
	})
	require.NoError(t, err)
	budget := resilience.NewRetryBudget(4, 0.1)
	r := db.NewRunner(gdb, db.RunnerConfig{Retry: retries, RetryBudget: budget, Breaker: b})
	for i := 0; i < 5; i++ {
		attempts := 0
		err := r.Read(context.Background(), func(tx *gorm.DB) error {
			attempts++
			if attempts == 1 {
				return tx.Exec("SELECT pg_terminate_backend(pg_backend_pid())").Error // 57P01
			}
			return tx.Exec("SELECT 1").Error
		})
		require.NoError(t, err, "call %d", i)
		assert.Equal(t, 2, attempts, "call %d: retried once, on a live connection", i)
	}
	calls := 0
	for i := 0; i < 5; i++ {
		err := r.Read(context.Background(), func(tx *gorm.DB) error {
			calls++
			return tx.Exec("SELECT pg_terminate_backend(pg_backend_pid())").Error
		})
		require.ErrorIs(t, err, apperr.ErrUnavailable, "every attempt lost its connection: 503")
		assert.Equal(t, resilience.ClassConnectionLost, resilience.Classify(err), "%v", err)
	}
	assert.Equal(t, 5*retries.MaxAttempts, calls, "every call made all its attempts: the budget was not drained")
	assert.Equal(t, resilience.StateClosed, b.State(), "lost connections do not open the breaker")
	assert.True(t, budget.Allow())
}

// The operation budget bounds a call whatever the database does.
func TestRunnerBudgetBoundsAnOperation(t *testing.T) {
	r, _ := newRunner(t, 100, 300*time.Millisecond)
	start := time.Now()
	err := r.Read(context.Background(), func(tx *gorm.DB) error { return tx.Exec("SELECT pg_sleep(2)").Error })
	assert.ErrorIs(t, err, apperr.ErrUnavailable)
	assert.Less(t, time.Since(start), time.Second)
}

// Time running out after the work but before COMMIT is a plain timeout (503), not an
// unknown outcome: COMMIT was never sent and nothing is stored.
func TestTransactPastItsDeadlineBeforeCommitIsATimeout(t *testing.T) {
	accounts(t)
	r, _ := newRunner(t, 100, 200*time.Millisecond)
	err := r.Transact(context.Background(), func(tx *gorm.DB) error {
		if err := tx.Exec("INSERT INTO accounts (id, balance) VALUES (9, 1)").Error; err != nil {
			return err
		}
		time.Sleep(300 * time.Millisecond)
		return nil
	})
	require.ErrorIs(t, err, apperr.ErrUnavailable)
	assert.NotErrorIs(t, err, db.ErrOutcomeUnknown)
	var n int64
	require.NoError(t, gdb.Model(&account{}).Where("id = 9").Count(&n).Error)
	assert.Zero(t, n)
}

// Contention on a healthy database is retried however empty the shared retry budget is: the
// budget is for a failing database.
func TestContentionIsRetriedWithAnEmptyBudget(t *testing.T) {
	accounts(t)
	b, err := resilience.NewBreaker(resilience.BreakerConfig{
		FailureThreshold: 100, Window: time.Minute, OpenTimeout: time.Minute, HalfOpenProbes: 1, HalfOpenSuccesses: 1,
	})
	require.NoError(t, err)
	budget := resilience.NewRetryBudget(2, 0.1)
	for i := 0; i < 5; i++ {
		budget.Failed()
	}
	require.False(t, budget.Allow())
	r := db.NewRunner(gdb, db.RunnerConfig{Retry: retries, RetryBudget: budget, Breaker: b})
	attempts := 0
	err = r.Transact(context.Background(), func(tx *gorm.DB) error {
		attempts++
		if attempts == 1 {
			return &pgconn.PgError{Code: "40001"}
		}
		return nil
	})
	require.NoError(t, err)
	assert.Equal(t, 2, attempts)
}
