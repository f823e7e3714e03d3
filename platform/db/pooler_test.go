package db_test

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gorm.io/gorm"

	"usersvc/platform/apperr"
	"usersvc/platform/db"
	"usersvc/platform/resilience"
	"usersvc/tests/clusterkit"
	"usersvc/tests/faultkit"
	"usersvc/tests/testdb"
)

// openPooled opens this run's database through a PgBouncer in transaction mode, as the
// service is configured with database.pooler: transaction.
func openPooled(t *testing.T, statementTimeout time.Duration) *gorm.DB {
	t.Helper()
	cfg := testConfig(testdb.ThroughPooler(dbURL, clusterkit.Pooler(t)))
	cfg.TransactionPooling, cfg.StatementTimeout = true, statementTimeout
	pool, err := db.Open(context.Background(), cfg, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close(pool) })
	return pool
}

// Behind a transaction pooler consecutive transactions of one client connection run on
// different server connections: a prepared statement made on one is unknown on the next.
// Concurrent parameterised queries through the pooler must all succeed.
func TestQueriesThroughATransactionPoolerSucceed(t *testing.T) {
	pool := openPooled(t, time.Second)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 100 {
				var got int
				if err := pool.Raw(`SELECT ?::int + ?::int`, w, i).Scan(&got).Error; err != nil {
					errs <- err
					return
				}
				if got != w+i {
					errs <- errors.New("wrong sum")
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// statement_timeout cannot ride in the startup packet through PgBouncer (it refuses it) and a
// session SET would stay on a server connection other clients then use: the Runner sets it
// with SET LOCAL in each transaction, so it bounds the transaction and nothing after it.
func TestStatementTimeoutHoldsInTransactionsThroughAPooler(t *testing.T) {
	pool := openPooled(t, 200*time.Millisecond)
	b, err := resilience.NewBreaker(resilience.BreakerConfig{
		FailureThreshold: 10, Window: time.Minute, OpenTimeout: time.Minute, HalfOpenProbes: 1, HalfOpenSuccesses: 1,
	})
	require.NoError(t, err)
	t.Cleanup(b.Close)
	r := db.NewRunner(pool, db.RunnerConfig{Retry: retries, Breaker: b, TxStatementTimeout: 200 * time.Millisecond})

	start := time.Now()
	err = r.Transact(context.Background(), func(tx *gorm.DB) error {
		return tx.Exec(`SELECT pg_sleep(3)`).Error
	})
	require.Error(t, err)
	var pgErr *pgconn.PgError
	require.True(t, errors.As(err, &pgErr), "a server-side cancel, not a client deadline: %v", err)
	assert.Equal(t, "57014", pgErr.Code)
	assert.ErrorIs(t, err, apperr.ErrUnavailable)
	assert.Less(t, time.Since(start), 2*time.Second)

	// The setting ended with its transaction: the pooled server connections are clean.
	for range 4 {
		var setting string
		require.NoError(t, pool.Raw(`SHOW statement_timeout`).Scan(&setting).Error)
		assert.Equal(t, "0", setting, "no session-level statement_timeout reached another transaction")
	}
}

// A query cut off by its context makes pgx close the connection and send a CancelRequest on
// a second one. PgBouncer 1.18 (Debian's) can crash on a CancelRequest whose sender goes
// away first — "FATAL … disconnect_client(): bad client state: 0" (pgbouncer issues 801,
// 904), seen here when an instance exited during a cut-off request — taking every
// instance's connections with it. Behind a transaction pooler the service sends none: the
// statement ends when the pooler closes its server connection, or at its SET LOCAL timeout.
func TestNoCancelRequestsReachATransactionPooler(t *testing.T) {
	proxy, err := faultkit.NewProxy(clusterkit.Pooler(t))
	require.NoError(t, err)
	t.Cleanup(func() { _ = proxy.Close() })
	cfg := testConfig(testdb.ThroughPooler(dbURL, proxy.Addr()))
	cfg.TransactionPooling = true
	pool, err := db.Open(context.Background(), cfg, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close(pool) })

	for range 5 {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
		err := pool.WithContext(ctx).Exec(`SELECT pg_sleep(1)`).Error
		cancel()
		require.Error(t, err)
	}
	time.Sleep(300 * time.Millisecond) // pgx would send its CancelRequests asynchronously
	assert.Zero(t, proxy.Cancels(), "CancelRequests sent through the pooler")
	var one int
	require.NoError(t, pool.Raw(`SELECT 1`).Scan(&one).Error, "the pool still works")
	assert.Equal(t, 1, one)
}
