package migrations_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// countUsersID is the migration that adds the stats' counters and their triggers.
const countUsersID = "202611281301_count_users"

// countersMatch compares the counters with count(*) of users in one statement (one snapshot),
// as 202611281301_count_users keeps them.
const countersMatch = `SELECT
	(SELECT coalesce(sum(live), 0) FROM user_counts) = (SELECT count(*) FROM users WHERE deleted_at IS NULL)
	AND (SELECT coalesce(sum(deleted), 0) FROM user_counts) = (SELECT count(*) FROM users WHERE deleted_at IS NOT NULL)
	AND NOT EXISTS (
		(SELECT day, sum(created)::bigint FROM user_day_counts GROUP BY day HAVING sum(created) <> 0
		 EXCEPT SELECT (created_at AT TIME ZONE 'UTC')::date, count(*) FROM users GROUP BY 1)
		UNION ALL
		(SELECT (created_at AT TIME ZONE 'UTC')::date, count(*) FROM users GROUP BY 1
		 EXCEPT SELECT day, sum(created)::bigint FROM user_day_counts GROUP BY day HAVING sum(created) <> 0))`

// slotsID keeps a day's registrations partly in the shards' slots (user_counts.day_created).
const slotsID = "202611281302_count_registrations_in_slots"

// countersMatchWithSlots is countersMatch once slotsID is applied.
const countersMatchWithSlots = `SELECT
	(SELECT coalesce(sum(live), 0) FROM user_counts) = (SELECT count(*) FROM users WHERE deleted_at IS NULL)
	AND (SELECT coalesce(sum(deleted), 0) FROM user_counts) = (SELECT count(*) FROM users WHERE deleted_at IS NOT NULL)
	AND NOT EXISTS (
		(SELECT day, sum(n)::bigint FROM (SELECT day, created AS n FROM user_day_counts
			UNION ALL SELECT day, day_created FROM user_counts WHERE day IS NOT NULL) AS c GROUP BY day HAVING sum(n) <> 0
		 EXCEPT SELECT (created_at AT TIME ZONE 'UTC')::date, count(*) FROM users GROUP BY 1)
		UNION ALL
		(SELECT (created_at AT TIME ZONE 'UTC')::date, count(*) FROM users GROUP BY 1
		 EXCEPT SELECT day, sum(n)::bigint FROM (SELECT day, created AS n FROM user_day_counts
			UNION ALL SELECT day, day_created FROM user_counts WHERE day IS NOT NULL) AS c GROUP BY day HAVING sum(n) <> 0))`

// The counters start equal to count(*): the users stored before the migration (live and
// deleted, over many days) are backfilled, and the users that writers insert, delete and
// restore while it runs are counted once, either by the backfill or by the triggers. Moving
// to the slots (and back) while they write loses no count either.
func TestCountUsersBackfillsExactlyWhileUsersAreWritten(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	url := newDatabase(t, "count_users")
	conn := connect(t, url)
	plan := ids(appPlan(t))
	at := slices.Index(plan, countUsersID)
	require.Positive(t, at, "%s is not in the plan", countUsersID)
	r := newApp(t, url).Migrator()
	_, err := r.Up(ctx, plan[at-1])
	require.NoError(t, err)
	_, err = conn.Exec(ctx, `INSERT INTO users (id, username, email, created_at, updated_at, deleted_at)
		SELECT gen_random_uuid(), 'old' || i, 'old' || i || '@x.io', now() - (i % 40) * interval '1 day', now(),
			CASE WHEN i % 5 = 0 THEN now() END
		FROM generate_series(1, 2000) AS i`)
	require.NoError(t, err)

	wctx, stop := context.WithCancel(context.Background())
	var writes atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 3)
	for w := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := writeUsers(wctx, url, fmt.Sprintf("w%d_", w), &writes); err != nil && wctx.Err() == nil {
				errs <- err
			}
		}()
	}
	// Each step runs while the writers write, and the counters must match after it and after
	// more writes: the backfill, the slots, and their rollback.
	steps := []struct {
		what  string
		apply func() error
		check string
	}{
		{"up to " + countUsersID, func() error { _, err := r.Up(ctx, countUsersID); return err }, countersMatch},
		{"up to " + slotsID, func() error { _, err := r.Up(ctx, slotsID); return err }, countersMatchWithSlots},
		{"down from " + slotsID, func() error { _, err := r.Down(ctx, countUsersID, false); return err }, countersMatch},
	}
	waitFor(t, 10*time.Second, "writers started", func() bool { return writes.Load() > 20 })
	for _, step := range steps {
		require.NoError(t, step.apply(), step.what)
		before := writes.Load()
		waitFor(t, 10*time.Second, "writes after "+step.what, func() bool { return writes.Load() > before+20 })
		var ok bool
		require.NoError(t, conn.QueryRow(ctx, step.check).Scan(&ok))
		assert.True(t, ok, "the counters differ from count(*) after %s under writes", step.what)
	}
	stop()
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}

	var ok bool
	require.NoError(t, conn.QueryRow(ctx, countersMatch).Scan(&ok))
	assert.True(t, ok, "the counters differ from count(*) at the end")
	var days int
	require.NoError(t, conn.QueryRow(ctx, `SELECT count(DISTINCT day) FROM user_day_counts`).Scan(&days))
	assert.GreaterOrEqual(t, days, 40, "the backfill counts every day")
}

// writeUsers inserts users one statement at a time, soft-deleting every third and restoring
// every ninth, until ctx ends.
func writeUsers(ctx context.Context, url, prefix string, writes *atomic.Int64) error {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	for i := 0; ctx.Err() == nil; i++ {
		name := fmt.Sprintf("%s%d", prefix, i)
		if _, err := conn.Exec(ctx, `INSERT INTO users (id, username, email, created_at, updated_at)
			VALUES (gen_random_uuid(), $1, $1 || '@x.io', now(), now())`, name); err != nil {
			return err
		}
		if i%3 == 0 {
			if _, err := conn.Exec(ctx, `UPDATE users SET deleted_at = now() WHERE username = $1`, name); err != nil {
				return err
			}
		}
		if i%9 == 0 {
			if _, err := conn.Exec(ctx, `UPDATE users SET deleted_at = NULL WHERE username = $1`, name); err != nil {
				return err
			}
		}
		writes.Add(1)
	}
	return nil
}
