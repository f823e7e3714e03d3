package resilience

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"usersvc/modules/users"
	"usersvc/platform/apperr"
	svcres "usersvc/platform/resilience"
	"usersvc/tests/performance/perfkit"
	"usersvc/tests/testdb"
)

// Suite 08's numbers are only as good as its attempt counts: the trigger's counters must
// agree with the Runner's own count of attempts, survive the rollback of failed attempts,
// and the recorded attempt times must show at least the configured waits.
func TestInjectedFailuresAreCountedExactly(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dbURL, drop, err := testdb.Create("perf_resilience_faults")
	require.NoError(t, err)
	defer func() { require.NoError(t, drop()) }()
	require.NoError(t, perfkit.Migrate(ctx, dbURL))
	f, err := installFaults(ctx, dbURL)
	require.NoError(t, err)
	defer f.close()

	a, err := perfkit.OpenApp(ctx, dbURL, 2) // defaults: max_attempts 3, initial_backoff 20ms
	require.NoError(t, err)
	defer a.Close()
	repo, err := perfkit.UsersRepository(a)
	require.NoError(t, err)
	c, err := f.pool.Acquire(ctx)
	require.NoError(t, err)
	defer c.Release()

	register := func(name string) error {
		_, err := repo.Register(ctx, users.Registration{Username: name, Email: name + "@perf.example.com"})
		return err
	}
	runnerAttempts := func() float64 { return metricSum(a.Handler(), "usersvc_db_attempts_total", `op="transact"`) }

	// Always colliding: three attempts, each counted although rolled back, then a 503.
	require.NoError(t, f.set(ctx, fault{failRate: 1, stamp: true}))
	before := runnerAttempts()
	err = register(workerName(0, "t", 1))
	require.True(t, errors.Is(err, apperr.ErrUnavailable), "%v", err)
	require.Equal(t, svcres.ClassContention, svcres.Classify(err))
	at, err := f.stamps(ctx, c, 0)
	require.NoError(t, err)
	require.Len(t, at, 3, "attempts counted by the trigger")
	require.Equal(t, 3.0, runnerAttempts()-before, "attempts counted by the Runner")
	// Waits are 20 ms and 40 ms, less at most 25% jitter: never shorter.
	require.GreaterOrEqual(t, at[1]-at[0], int64(15_000), "first wait (µs)")
	require.GreaterOrEqual(t, at[2]-at[1], int64(30_000), "second wait (µs)")

	// Healthy: one attempt, and the counter was reset by stamps.
	require.NoError(t, f.set(ctx, fault{}))
	total, err := f.total(ctx)
	require.NoError(t, err)
	require.NoError(t, register(workerName(0, "t", 2)))
	n, err := seqValue(ctx, c, workerSeq(0))
	require.NoError(t, err)
	require.EqualValues(t, 1, n)
	after, err := f.total(ctx)
	require.NoError(t, err)
	require.EqualValues(t, 1, after-total)
}

func TestChanceBound(t *testing.T) {
	// 4000 operations at 0.3^8: 0.26 failures expected; P(X > 3) ≈ 0.0002, P(X > 2) ≈ 0.0027.
	if got := chanceBound(4000*math.Pow(0.3, 8), 0.001); got != 3 {
		t.Errorf("bound for 4000 ops = %d, want 3", got)
	}
	if got := chanceBound(0, 0.001); got != 0 {
		t.Errorf("bound with nothing expected = %d, want 0", got)
	}
}
