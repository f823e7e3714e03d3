package db_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gorm.io/gorm"

	"usersvc/platform/db"
	"usersvc/platform/resilience"
	"usersvc/tests/faultkit"
)

// lossPool opens a pool of size connections named appName, counting the connections it
// reports lost, and fills it: size connections opened, reused and returned, so each is idle
// in the pool with a recent last use (under pgx's own one-second ping rule).
func lossPool(t *testing.T, url, appName string, size int) (*gorm.DB, *atomic.Int64) {
	t.Helper()
	var lost atomic.Int64
	cfg := testConfig(url)
	cfg.ApplicationName = appName
	cfg.MaxOpenConns, cfg.MaxIdleConns = size, size
	cfg.OnConnectionLost = func() { lost.Add(1) }
	pool, err := db.Open(context.Background(), cfg, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close(pool) })
	fill(t, pool, size)
	fill(t, pool, size) // pgx always pings a connection's first reuse; the second is the one that counts
	return pool, &lost
}

// fill holds n connections of pool at once, so that n are open, then gives them back.
func fill(t *testing.T, pool *gorm.DB, n int) {
	t.Helper()
	sqlDB, err := pool.DB()
	require.NoError(t, err)
	ctx := context.Background()
	for i := 0; i < n; i++ {
		c, err := sqlDB.Conn(ctx)
		require.NoError(t, err)
		require.NoError(t, c.PingContext(ctx))
		defer c.Close()
	}
}

// terminate ends every backend named appName, as an admin's sweep, a failover or a proxy
// restart would, and waits until they are gone. It returns how many it ended.
func terminate(t *testing.T, appName string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	admin, err := pgx.Connect(ctx, dbURL)
	require.NoError(t, err)
	defer admin.Close(ctx)
	var n, left int
	require.NoError(t, admin.QueryRow(ctx, `SELECT count(*) FILTER (WHERE pg_terminate_backend(pid))
		FROM pg_stat_activity WHERE application_name = $1`, appName).Scan(&n))
	for {
		require.NoError(t, admin.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
			WHERE application_name = $1`, appName).Scan(&left), "backends still there after 10s")
		if left == 0 {
			return n
		}
		time.Sleep(time.Millisecond)
	}
}

// Every pooled connection is terminated at once. The first statement to draw one fails
// (nothing could have known), and from then on the pool pings the connections idle since
// then before handing them out, so no later statement is given a dead one: each dead
// connection is found once (by that statement or by a ping) and replaced.
func TestPoolReplacesConnectionsTerminatedTogether(t *testing.T) {
	const size = 4
	pool, lost := lossPool(t, dbURL, "connloss_terminated", size)
	require.Equal(t, size, terminate(t, "connloss_terminated"))

	var failed []string
	for i := 0; i < 2*size; i++ {
		var one int
		if err := pool.Raw("SELECT 1").Scan(&one).Error; err != nil {
			assert.Equal(t, resilience.ClassConnectionLost, resilience.Classify(err), "%v", err)
			failed = append(failed, fmt.Sprintf("statement %d: %v", i, err))
		}
	}
	assert.LessOrEqual(t, len(failed), 1, "only the statement that found the first dead connection fails: %v", failed)
	if len(failed) == 1 {
		assert.Contains(t, failed[0], "statement 0:", "and it is the first one")
	}
	fill(t, pool, size) // draws every pooled connection, dead or alive
	assert.EqualValues(t, size, lost.Load(), "each terminated connection was found, once")
}

// With no loss seen, connections are reused without a ping, as before: a connection
// terminated behind the pool's back is found by the statement that draws it. (pgx pings a
// connection idle for over a second anyway, so the scenario is repeated until it ran within
// that second.)
func TestPoolDoesNotPingWithoutALoss(t *testing.T) {
	for try := 1; ; try++ {
		name := fmt.Sprintf("connloss_healthy_%d", try)
		pool, lost := lossPool(t, dbURL, name, 1)
		for i := 0; i < 20; i++ {
			require.NoError(t, pool.Exec("SELECT 1").Error)
		}
		assert.Zero(t, lost.Load(), "no loss on the healthy path")
		used := time.Now()
		require.Equal(t, 1, terminate(t, name))
		if time.Since(used) > 800*time.Millisecond {
			require.Less(t, try, 10, "terminating a backend took over 800ms ten times")
			continue // pgx's one-second rule could ping; try again
		}
		err := pool.Exec("SELECT 1").Error
		require.Error(t, err, "the dead connection was handed out unpinged")
		assert.Equal(t, resilience.ClassConnectionLost, resilience.Classify(err), "%v", err)
		assert.EqualValues(t, 1, lost.Load())
		require.NoError(t, pool.Exec("SELECT 1").Error, "and replaced")
		return
	}
}

// A proxy resets every connection (a restarted PgBouncer, a failover behind a virtual IP):
// the pool's sockets fail, which counts as a loss just as a FATAL from the server does, and
// the connections idle since are replaced before use.
func TestPoolReplacesConnectionsResetByTheNetwork(t *testing.T) {
	const size = 4
	proxy := proxyTo(t)
	pool, lost := lossPool(t, proxy.url, "connloss_reset", size)
	proxy.ResetAll()
	var failed []string
	for i := 0; i < 2*size; i++ {
		if err := pool.Exec("SELECT 1").Error; err != nil {
			failed = append(failed, fmt.Sprintf("statement %d: %v", i, err))
		}
	}
	assert.LessOrEqual(t, len(failed), 1, "%v", failed)
	fill(t, pool, size)
	assert.EqualValues(t, size, lost.Load(), "each reset connection was found, once")
}

// testProxy is a faultkit proxy in front of the test database.
type testProxy struct {
	*faultkit.Proxy
	url string // dbURL through the proxy
}

func proxyTo(t *testing.T) *testProxy {
	t.Helper()
	u, err := url.Parse(dbURL)
	require.NoError(t, err)
	p, err := faultkit.NewProxy(u.Host)
	require.NoError(t, err)
	t.Cleanup(func() { _ = p.Close() })
	u.Host = p.Addr()
	return &testProxy{Proxy: p, url: u.String()}
}
