package db_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gorm.io/gorm"

	"usersvc/platform/db"
	"usersvc/platform/resilience"
)

// After a failover a pooled connection can sit on a server that no longer takes writes: each
// write on it fails with 25006. That is the primary being unavailable, not a client error
// (issue 11): the connection is closed and the write retried on a new one. Here the one
// pooled connection is made read-only, as a demoted primary's would be.
func TestWriteOnAReadOnlyConnectionIsRetriedOnANewOne(t *testing.T) {
	cfg := testConfig(dbURL)
	cfg.MaxOpenConns, cfg.MaxIdleConns = 1, 1
	pool, err := db.Open(context.Background(), cfg, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close(pool) })
	require.NoError(t, pool.Exec(`CREATE TABLE IF NOT EXISTS readonly_probe (id int)`).Error)

	sqlDB, err := pool.DB()
	require.NoError(t, err)
	ctx := context.Background()
	conn, err := sqlDB.Conn(ctx)
	require.NoError(t, err)
	var before int
	require.NoError(t, conn.QueryRowContext(ctx, `SELECT pg_backend_pid()`).Scan(&before))
	_, err = conn.ExecContext(ctx, `SET SESSION default_transaction_read_only = on`)
	require.NoError(t, err)
	require.NoError(t, conn.Close()) // back to the pool, read-only

	b, err := resilience.NewBreaker(resilience.BreakerConfig{
		FailureThreshold: 10, Window: time.Minute, OpenTimeout: time.Minute, HalfOpenProbes: 1, HalfOpenSuccesses: 1,
	})
	require.NoError(t, err)
	t.Cleanup(b.Close)
	r := db.NewRunner(pool, db.RunnerConfig{Retry: retries, Breaker: b})
	attempts := 0
	err = r.Transact(ctx, func(tx *gorm.DB) error {
		attempts++
		return tx.Exec(`INSERT INTO readonly_probe VALUES (1)`).Error
	})
	require.NoError(t, err, "retried on a new, writable connection")
	assert.Equal(t, 2, attempts)
	var after int
	require.NoError(t, pool.Raw(`SELECT pg_backend_pid()`).Scan(&after).Error)
	assert.NotEqual(t, before, after, "the read-only connection was closed, not reused")
}
