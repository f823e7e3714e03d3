package restart_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"usersvc/tests/testapp"
)

// Every transaction of the app runs SERIALIZABLE. Two PATCHes of one user (no If-Match) queue
// behind a transaction that updates the row; when it commits, both fail with 40001 ("could
// not serialize access due to concurrent update") — and the second to retry may collide with
// the first once more. The Runner retries each transaction whole: both answer 200, the user
// ends at version 3 with two "updated" events, the contention class of attempts grew, and the
// breaker, which must not count contention, stayed closed.
func TestSerializationFailuresAreRetriedWhole(t *testing.T) {
	database := newDatabase(t)
	s := startApp(t, database, cluster.URL("postgres", database)+"&default_transaction_isolation=serializable", testapp.Options{})
	admin := adminConn(t, database)
	watcher := adminConn(t, database) // outside the blocker's transaction, which would freeze pg_stat_activity
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	var iso string
	require.NoError(t, s.DB.Raw("SHOW default_transaction_isolation").Scan(&iso).Error)
	require.Equal(t, "serializable", iso, "the app's connections run SERIALIZABLE")

	u := register(t, s, "serial")
	before := mustScrape(t, s)

	blocker, err := admin.Begin(ctx)
	require.NoError(t, err)
	defer func() { _ = blocker.Rollback(context.Background()) }()
	_, err = blocker.Exec(ctx, "UPDATE users SET updated_at = updated_at WHERE id = $1", u.ID)
	require.NoError(t, err)

	results := make(chan result, 2)
	for _, name := range []string{"first", "second"} {
		go func() {
			results <- send(s, http.MethodPatch, "/api/v1/users/"+u.ID, map[string]string{"full_name": name})
		}()
	}
	waiting := waitFor(1500*time.Millisecond, 5*time.Millisecond, func() bool { return lockWaiters(t, watcher, database) == 2 })
	require.NoError(t, blocker.Commit(ctx))
	require.True(t, waiting, "both PATCHes wait on the blocker's row lock")

	versions := []int{}
	for range 2 {
		r := <-results
		require.Equal(t, http.StatusOK, r.Status, "%s", r)
		var got user
		require.NoError(t, json.Unmarshal(r.Body, &got))
		versions = append(versions, got.Version)
	}
	assert.ElementsMatch(t, []int{2, 3}, versions, "each PATCH made one new version")

	var stored struct {
		Version  int
		FullName string
		Events   int
	}
	require.NoError(t, admin.QueryRow(ctx, `SELECT version, full_name,
		(SELECT count(*) FROM user_events WHERE user_id = users.id AND action = 'updated')
		FROM users WHERE id = $1`, u.ID).Scan(&stored.Version, &stored.FullName, &stored.Events))
	assert.Equal(t, 3, stored.Version)
	assert.Contains(t, []string{"first", "second"}, stored.FullName)
	assert.Equal(t, 2, stored.Events, "one updated event per PATCH, none from a rolled-back try")

	after := mustScrape(t, s)
	contention := after.sum(mAttempts, "op", "transact", "class", "contention") - before.sum(mAttempts, "op", "transact", "class", "contention")
	assert.GreaterOrEqual(t, contention, 2.0, "both PATCHes failed with 40001 at least once and were retried")
	assert.Equal(t, 2.0, after.sum(mOperations, "op", "transact", "outcome", "ok")-before.sum(mOperations, "op", "transact", "outcome", "ok"))
	assert.Equal(t, float64(breakerClosed), after.sum(mBreakerState), "contention never opens the breaker")
	assert.Zero(t, after.sum(mBreakerTransitions), "the breaker never changed state")
	t.Logf("serialization: contention attempts %.0f for 2 PATCHes", contention)
}

// A deadlock between two requests. The batch store sorts rows by lower(username) so that
// batches take the username index in one order — but a batch also inserts into the email
// index, in whatever order the emails come. Batch A inserts emails x, k, y; batch B y, k, x.
// An uncommitted row holding k (a blocker, straight on the cluster) lines them up: A holds x,
// B holds y, both wait for k. When the blocker rolls back, one of them takes k and then needs
// the other's email: a deadlock (40P01), found after deadlock_timeout (100ms here). The victim's
// transaction is retried whole, finds the survivor's emails committed, and answers 409 naming
// its first item; the survivor answers 201. No 500, no 503, breaker closed, exactly the
// survivor's three users stored.
func TestDeadlockBetweenTwoBatchesIsRetried(t *testing.T) {
	database := newDatabase(t)
	adminExec(t, "postgres", "ALTER DATABASE "+database+" SET deadlock_timeout = '100ms'")
	s := startApp(t, database, cluster.URL("postgres", database), testapp.Options{})
	admin := adminConn(t, database)
	watcher := adminConn(t, database) // outside the blocker's transaction, which would freeze pg_stat_activity
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	batch := func(prefix string, emails ...string) map[string]any {
		items := make([]map[string]string, len(emails))
		for i, e := range emails {
			items[i] = map[string]string{"username": prefix + string(rune('1'+i)), "email": e}
		}
		return map[string]any{"users": items}
	}
	a := batch("dl_a", "x@dl.io", "k@dl.io", "y@dl.io")
	b := batch("dl_b", "y@dl.io", "k@dl.io", "x@dl.io")
	before := mustScrape(t, s)

	blocker, err := admin.Begin(ctx)
	require.NoError(t, err)
	defer func() { _ = blocker.Rollback(context.Background()) }()
	_, err = blocker.Exec(ctx, `INSERT INTO users (id, username, email, created_at, updated_at)
		VALUES (gen_random_uuid(), 'dl_blocker', 'k@dl.io', now(), now())`)
	require.NoError(t, err)

	results := make(chan result, 2)
	for _, body := range []map[string]any{a, b} {
		go func() { results <- send(s, http.MethodPost, "/api/v1/users/batch", body) }()
	}
	waiting := waitFor(1500*time.Millisecond, 5*time.Millisecond, func() bool { return lockWaiters(t, watcher, database) == 2 })
	require.NoError(t, blocker.Rollback(ctx))
	require.True(t, waiting, "both batches wait for the blocker's email k")

	var created, conflict []result
	for range 2 {
		r := <-results
		switch r.Status {
		case http.StatusCreated:
			created = append(created, r)
		case http.StatusConflict:
			conflict = append(conflict, r)
		default:
			t.Errorf("a batch got %s; want 201 or 409", r)
		}
	}
	require.Len(t, created, 1, "one batch stored")
	require.Len(t, conflict, 1, "the other told why not")
	assert.Contains(t, conflict[0].Detail, "users[0]: email is already taken")

	var items struct{ Items []user }
	require.NoError(t, json.Unmarshal(created[0].Body, &items))
	require.Len(t, items.Items, 3)
	survivor := items.Items[0].Username[:len("dl_a")]
	var stored, storedSurvivor, events int
	require.NoError(t, admin.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE username LIKE $1 || '%'),
		(SELECT count(*) FROM user_events WHERE action = 'created') FROM users`, survivor).Scan(&stored, &storedSurvivor, &events))
	assert.Equal(t, 3, stored, "the survivor's three users and nothing else (not the blocker's, not the victim's)")
	assert.Equal(t, 3, storedSurvivor)
	assert.Equal(t, 3, events)
	for _, u := range items.Items {
		assert.True(t, strings.HasPrefix(u.Username, survivor))
	}

	after := mustScrape(t, s)
	contention := after.sum(mAttempts, "op", "transact", "class", "contention") - before.sum(mAttempts, "op", "transact", "class", "contention")
	assert.GreaterOrEqual(t, contention, 1.0, "the deadlock victim's attempt failed with 40P01 and was retried")
	assert.Equal(t, float64(breakerClosed), after.sum(mBreakerState))
	assert.Zero(t, after.sum(mBreakerTransitions), "deadlocks never move the breaker")
	t.Logf("deadlock: contention attempts %.0f", contention)
}
