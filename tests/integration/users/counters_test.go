package users_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sync/errgroup"
	"gorm.io/gorm"
)

// countsMatch compares the stats' counters with count(*) of users in ONE statement, so in one
// snapshot: live and deleted totals, and registrations per UTC day (days whose counters sum
// to 0 are the days with no users).
const countsMatch = `SELECT
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

func requireCountsMatch(t *testing.T, when string) {
	t.Helper()
	var ok bool
	require.NoError(t, srv.DB.Raw(countsMatch).Scan(&ok).Error)
	require.True(t, ok, "the counters differ from count(*) of users %s", when)
}

// Creates, batch creates, deletes and restores from several clients at once, through the
// API: every snapshot a concurrent reader takes meanwhile has the counters equal to count(*)
// (they change in the transaction of each write), and so has the end, and GET /stats says
// what count(*) says.
func TestCountersStayExactUnderConcurrentWrites(t *testing.T) {
	requireCountsMatch(t, "before")
	ctx, stopChecking := context.WithCancel(context.Background())
	var checks, mismatches atomic.Int64
	var checkErr error
	var checking sync.WaitGroup
	checking.Add(1)
	go func() {
		defer checking.Done()
		for ctx.Err() == nil {
			var ok bool
			if err := srv.DB.WithContext(ctx).Raw(countsMatch).Scan(&ok).Error; err != nil {
				if ctx.Err() == nil {
					checkErr = err
				}
				return
			}
			checks.Add(1)
			if !ok {
				mismatches.Add(1)
			}
		}
	}()

	prefix := "cw" + unique()
	g, gctx := errgroup.WithContext(context.Background())
	for w := range 6 {
		g.Go(func() error { return churn(gctx, fmt.Sprintf("%s_%d", prefix, w), 20) })
	}
	writeErr := g.Wait()
	stopChecking()
	checking.Wait()
	require.NoError(t, writeErr)
	require.NoError(t, checkErr)
	require.Positive(t, checks.Load(), "the reader checked no snapshot")
	require.Zero(t, mismatches.Load(), "%d of %d snapshots had counters unequal to count(*)", mismatches.Load(), checks.Load())
	requireCountsMatch(t, "after the writes")
	var shards int64
	require.NoError(t, srv.DB.Raw(`SELECT count(*) FROM user_counts WHERE day_created <> 0`).Scan(&shards).Error)
	t.Logf("%d snapshots checked during the writes; %d shards written", checks.Load(), shards)

	var want struct{ Active, Deleted int64 }
	require.NoError(t, srv.DB.Raw(`SELECT count(*) FILTER (WHERE deleted_at IS NULL) AS active,
		count(*) FILTER (WHERE deleted_at IS NOT NULL) AS deleted FROM users`).Scan(&want).Error)
	got := getStats(t)
	assert.Equal(t, want.Active, got.Active)
	assert.Equal(t, want.Deleted, got.Deleted)
	require.Len(t, got.CreatedPerDay, 30)
	for _, d := range got.CreatedPerDay {
		var n int64
		require.NoError(t, srv.DB.Raw(`SELECT count(*) FROM users WHERE (created_at AT TIME ZONE 'UTC')::date = ?::date`, d.Date).
			Scan(&n).Error)
		assert.Equal(t, n, d.Count, "registrations on %s", d.Date)
	}
}

// churn registers, batch-registers, deletes and restores users named prefix…, rounds times.
func churn(ctx context.Context, prefix string, rounds int) error {
	var live, deleted []string
	do := func(method, path string, body any, want int) (*userPage, error) {
		resp, err := srv.Request(ctx, method, path, body)
		if err != nil {
			return nil, err
		}
		if resp.Status != want {
			return nil, fmt.Errorf("%s %s: %d, want %d: %s", method, path, resp.Status, want, resp.Body)
		}
		var p userPage
		switch {
		case path == "/api/v1/users/batch":
			err = json.Unmarshal(resp.Body, &p)
		case want != http.StatusNoContent:
			var u user
			err = json.Unmarshal(resp.Body, &u)
			p.Items = []user{u}
		}
		return &p, err
	}
	for r := range rounds {
		name := fmt.Sprintf("%s_%03d", prefix, r)
		p, err := do(http.MethodPost, "/api/v1/users", map[string]string{"username": name, "email": name + "@x.io"}, http.StatusCreated)
		if err != nil {
			return err
		}
		live = append(live, p.Items[0].ID)
		if r%4 == 0 {
			p, err := do(http.MethodPost, "/api/v1/users/batch", map[string]any{"users": batchOf(name+"b", 5)}, http.StatusCreated)
			if err != nil {
				return err
			}
			for _, u := range p.Items {
				live = append(live, u.ID)
			}
		}
		if r%2 == 1 { // delete the oldest live user
			if _, err := do(http.MethodDelete, "/api/v1/users/"+live[0], nil, http.StatusNoContent); err != nil {
				return err
			}
			deleted, live = append(deleted, live[0]), live[1:]
		}
		if r%3 == 2 && len(deleted) > 0 { // restore the oldest deleted one
			if _, err := do(http.MethodPost, "/api/v1/users/"+deleted[0]+"/restore", nil, http.StatusOK); err != nil {
				return err
			}
			live, deleted = append(live, deleted[0]), deleted[1:]
		}
	}
	return nil
}

// SQL that bypasses the API keeps the counters exact too: the performance seeder's bulk
// INSERT … SELECT under session_replication_role = replica (which silences ordinary
// triggers), registrations of other days than the shard's slot holds, a created_at moved to
// other days, a bulk soft delete and restore, a hard delete.
func TestCountersFollowBulkSQLAndHardDeletes(t *testing.T) {
	prefix := "cb" + unique()
	like := prefix + "%"
	require.NoError(t, srv.DB.Transaction(func(tx *gorm.DB) error {
		if err := tx.Exec(`SET LOCAL session_replication_role = replica`).Error; err != nil {
			return err
		}
		return tx.Exec(`INSERT INTO users (id, username, email, full_name, version, created_at, updated_at, deleted_at)
			SELECT gen_random_uuid(), ? || '_' || i, ? || '_' || i || '@x.io', '', 1,
				now() - (i % 60) * interval '1 day' - i * interval '1 minute', now(),
				CASE WHEN i % 7 = 0 THEN now() END
			FROM generate_series(1, 500) AS i`, prefix, prefix).Error
	}))
	requireCountsMatch(t, "after a bulk insert in replica mode")
	// One connection (one shard) registering on one day, then another, then the first again:
	// its slot moves each time, its count going to user_day_counts.
	require.NoError(t, srv.DB.Transaction(func(tx *gorm.DB) error {
		for i, ago := range []string{"0", "3 days", "3 days", "0", "26 hours"} {
			err := tx.Exec(`INSERT INTO users (id, username, email, created_at, updated_at)
				VALUES (gen_random_uuid(), ?, ? || '@x.io', now() - ?::interval, now())`,
				fmt.Sprintf("%s_s%d", prefix, i), fmt.Sprintf("%s_s%d", prefix, i), ago).Error
			if err != nil {
				return err
			}
			var ok bool
			if err := tx.Raw(countsMatch).Scan(&ok).Error; err != nil || !ok {
				return fmt.Errorf("after registering %d (created %s ago): counts match %v, %v", i, ago, ok, err)
			}
		}
		return nil
	}))
	requireCountsMatch(t, "after moving a slot from day to day")
	for _, step := range []struct{ what, sql string }{
		{"moving created_at to other days", `UPDATE users SET created_at = created_at - interval '36 hours' WHERE username LIKE ?`},
		{"a bulk soft delete", `UPDATE users SET deleted_at = now() WHERE username LIKE ? AND deleted_at IS NULL AND length(username) % 2 = 0`},
		{"a bulk restore", `UPDATE users SET deleted_at = NULL WHERE username LIKE ? AND deleted_at IS NOT NULL AND length(username) % 3 = 0`},
		{"a hard delete", `DELETE FROM users WHERE username LIKE ?`},
	} {
		require.NoError(t, srv.DB.Exec(step.sql, like).Error, step.what)
		requireCountsMatch(t, "after "+step.what)
	}
}

// The counters are kept by these triggers, enabled ALWAYS (also in replica mode). A
// migration that drops or disables one fails here, and the counts drift (the tests above).
func TestCounterTriggersAreInstalled(t *testing.T) {
	var rows []struct {
		Name    string
		Enabled string
	}
	require.NoError(t, srv.DB.Raw(`SELECT tgname AS name, tgenabled::text AS enabled FROM pg_trigger
		WHERE tgrelid = 'users'::regclass AND NOT tgisinternal AND tgname LIKE 'user_counts_%' ORDER BY 1`).Scan(&rows).Error)
	got := map[string]string{}
	for _, r := range rows {
		got[r.Name] = r.Enabled
	}
	assert.Equal(t, map[string]string{"user_counts_delete": "A", "user_counts_insert": "A",
		"user_counts_truncate": "A", "user_counts_update": "A"}, got)
}

// The check itself sees a missing trigger: without the INSERT trigger one registration is
// enough to make the counters wrong (in a transaction rolled back, so nothing stays).
func TestCountsCheckSeesAMissingTrigger(t *testing.T) {
	tx := srv.DB.Begin()
	require.NoError(t, tx.Error)
	defer tx.Rollback()
	require.NoError(t, tx.Exec(`SET LOCAL lock_timeout = '5s'`).Error)
	require.NoError(t, tx.Exec(`DROP TRIGGER user_counts_insert ON users`).Error)
	name := "ct" + unique()
	require.NoError(t, tx.Exec(`INSERT INTO users (id, username, email, created_at, updated_at)
		VALUES (gen_random_uuid(), ?, ? || '@x.io', now(), now())`, name, name).Error)
	var ok bool
	require.NoError(t, tx.Raw(countsMatch).Scan(&ok).Error)
	require.False(t, ok, "the counters cannot match count(*) with an uncounted insert")
}

// TRUNCATE empties the counters with the table (checked in a transaction rolled back).
func TestCountersFollowTruncate(t *testing.T) {
	tx := srv.DB.Begin()
	require.NoError(t, tx.Error)
	defer tx.Rollback()
	require.NoError(t, tx.Exec(`SET LOCAL lock_timeout = '5s'`).Error)
	require.NoError(t, tx.Exec(`TRUNCATE users CASCADE`).Error)
	var ok bool
	require.NoError(t, tx.Raw(countsMatch).Scan(&ok).Error)
	require.True(t, ok)
	var rows int64
	require.NoError(t, tx.Raw(`SELECT (SELECT count(*) FROM user_counts) + (SELECT count(*) FROM user_day_counts)`).Scan(&rows).Error)
	require.Zero(t, rows)
}
