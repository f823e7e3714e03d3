package migrations_test

import (
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"usersvc/migrations"
)

// While another session holds the migration lock, Up waits LockTimeout, then gives up with
// ErrLockTimeout having applied nothing; once the lock is free, Up succeeds.
func TestUpTimesOutWhileLockIsHeld(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	url := newDatabase(t, "lock_timeout")
	holder, conn := connect(t, url), connect(t, url)
	const timeout = 700 * time.Millisecond
	r := newRunner(t, url, appPlan(t), migrations.Options{LockTimeout: timeout})

	_, err := holder.Exec(ctx, `SELECT pg_advisory_lock($1)`, migrations.LockKey)
	require.NoError(t, err)
	start := time.Now()
	applied, err := r.Up(ctx, "")
	elapsed := time.Since(start)
	require.ErrorIs(t, err, migrations.ErrLockTimeout)
	assert.Empty(t, applied)
	assert.GreaterOrEqual(t, elapsed, timeout, "gave up before the timeout")
	assert.Less(t, elapsed, timeout+time.Second, "waited far longer than the timeout")
	assert.False(t, relationExists(t, conn, "schema_migrations"), "nothing may happen without the lock")
	assert.False(t, relationExists(t, conn, "users"), "nothing may happen without the lock")

	_, err = holder.Exec(ctx, `SELECT pg_advisory_unlock($1)`, migrations.LockKey)
	require.NoError(t, err)
	applied, err = r.Up(ctx, "")
	require.NoError(t, err)
	assert.Equal(t, ids(appPlan(t)), applied)
}

// Up that finds the lock held waits for it rather than failing: it proceeds as soon as the
// holder lets go (within its LockTimeout).
func TestUpWaitsForLockHolder(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	url := newDatabase(t, "lock_wait")
	holder := connect(t, url)
	r := newRunner(t, url, appPlan(t), migrations.Options{LockTimeout: 30 * time.Second})

	var holderPID int
	require.NoError(t, holder.QueryRow(ctx, `SELECT pg_backend_pid() FROM pg_advisory_lock($1)`, migrations.LockKey).Scan(&holderPID))
	type outcome struct {
		applied []string
		err     error
	}
	done := make(chan outcome, 1)
	go func() {
		applied, err := r.Up(ctx, "")
		done <- outcome{applied, err}
	}()

	// Up is waiting: another backend of this database has tried the lock.
	waitFor(t, 10*time.Second, "Up to try the lock", func() bool {
		var n int
		require.NoError(t, holder.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND pid <> $1 AND query LIKE '%pg_try_advisory_lock%'`, holderPID).Scan(&n))
		return n > 0
	})
	select {
	case o := <-done:
		t.Fatalf("Up returned while the lock was held: %v, %v", o.applied, o.err)
	default:
	}
	assert.False(t, relationExists(t, holder, "users"))

	_, err := holder.Exec(ctx, `SELECT pg_advisory_unlock($1)`, migrations.LockKey)
	require.NoError(t, err)
	select {
	case o := <-done:
		require.NoError(t, o.err)
		assert.Equal(t, ids(appPlan(t)), o.applied)
	case <-time.After(5 * time.Second):
		t.Fatal("Up did not proceed within 5s of the lock being released")
	}
}

// A migration whose DDL waits for a table lock behind a long transaction gives up after
// DDLLockTimeout (instead of queueing every later query of that table behind it), leaves
// nothing half-done, and succeeds once the transaction ends.
func TestMigrationGivesUpWaitingForATableLock(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	url := newDatabase(t, "ddl_lock")
	plan := appPlan(t)
	r := newRunner(t, url, plan, migrations.Options{DDLLockTimeout: 300 * time.Millisecond})
	_, err := r.Up(ctx, createUsersID)
	require.NoError(t, err)

	// An open write transaction on users: creating user_events (its foreign key needs a
	// SHARE ROW EXCLUSIVE lock on users) must wait for it.
	blocker := connect(t, url)
	tx, err := blocker.Begin(ctx)
	require.NoError(t, err)
	_, err = tx.Exec(ctx, `INSERT INTO users (id, username, email, created_at, updated_at)
		VALUES (gen_random_uuid(), 'holder', 'holder@example.com', now(), now())`)
	require.NoError(t, err)

	start := time.Now()
	_, err = r.Up(ctx, "")
	var pgErr *pgconn.PgError
	require.ErrorAs(t, err, &pgErr)
	assert.Equal(t, "55P03", pgErr.Code, "lock_not_available")
	assert.Less(t, time.Since(start), 5*time.Second)
	pending, err := r.Pending(ctx)
	require.NoError(t, err)
	assert.Equal(t, len(plan)-1, pending, "user_events and what follows it")

	require.NoError(t, tx.Rollback(ctx))
	applied, err := r.Up(ctx, "")
	require.NoError(t, err)
	assert.Equal(t, ids(plan[1:]), applied)
}
