package pgxrepo

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"usersvc/modules/users"
	"usersvc/tests/performance/perfkit"
	"usersvc/tests/testdb"
)

// openRepo returns a Repo over a fresh migrated database holding seeded users.
func openRepo(t *testing.T, seeded int) *Repo {
	t.Helper()
	ctx := context.Background()
	dbURL, drop, err := testdb.Create("pgxrepo")
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, drop()) })
	require.NoError(t, perfkit.Migrate(ctx, dbURL))
	_, err = perfkit.Seed(ctx, dbURL, perfkit.Profile{Users: seeded, EventsPerUser: 3, DeletedEvery: 10})
	require.NoError(t, err)
	pool, err := pgxpool.New(ctx, dbURL)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	return New(pool)
}

func TestWritesRoundTrip(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r := openRepo(t, 20)

	u, err := r.Register(ctx, users.Registration{Username: "Alice_1", Email: "Alice@Example.com", FullName: "A"})
	require.NoError(t, err)
	got, err := r.Get(ctx, u.ID, false)
	require.NoError(t, err)
	require.Equal(t, "Alice_1", got.Username)
	require.True(t, got.CreatedAt.Equal(u.CreatedAt))

	up, err := r.Update(ctx, u.ID, "B")
	require.NoError(t, err)
	require.Equal(t, 2, up.Version)
	require.NoError(t, r.Delete(ctx, u.ID))
	require.ErrorIs(t, r.Delete(ctx, u.ID), ErrNotFound, "deleting twice touches nothing")
	_, err = r.Get(ctx, u.ID, false)
	require.ErrorIs(t, err, ErrNotFound)
	del, err := r.Get(ctx, u.ID, true)
	require.NoError(t, err)
	require.True(t, del.DeletedAt.Valid)

	back, err := r.Restore(ctx, u.ID)
	require.NoError(t, err)
	require.Equal(t, 4, back.Version)
	require.False(t, back.DeletedAt.Valid)
	_, err = r.Restore(ctx, u.ID)
	require.ErrorIs(t, err, ErrNotFound, "restoring a live user touches nothing")

	events, more, err := r.Events(ctx, u.ID, 0, 3)
	require.NoError(t, err)
	require.True(t, more)
	require.Equal(t, []string{users.ActionRestored, users.ActionDeleted, users.ActionUpdated},
		[]string{events[0].Action, events[1].Action, events[2].Action})
	older, more, err := r.Events(ctx, u.ID, events[2].ID, 3)
	require.NoError(t, err)
	require.False(t, more)
	require.Len(t, older, 1)
	require.Equal(t, users.ActionCreated, older[0].Action)
	require.Equal(t, "Alice@Example.com", older[0].Changes["email"])

	p, err := r.GetByEmail(ctx, "ALICE@example.COM", 5)
	require.NoError(t, err)
	require.Len(t, p.Items, 1)
	p, err = r.PrefixSearch(ctx, "ALI", 5)
	require.NoError(t, err)
	require.Len(t, p.Items, 1)
}

func TestBulkInsertsWriteEveryRow(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r := openRepo(t, 10)
	batch := func(tag string, n int) []users.User {
		us := make([]users.User, n)
		for i := range us {
			u, err := NewUser(users.Registration{Username: fmt.Sprintf("%s_%d", tag, i), Email: fmt.Sprintf("%s_%d@x.test", tag, i)}, now())
			require.NoError(t, err)
			us[i] = u
		}
		return us
	}
	for name, insert := range map[string]func(context.Context, []users.User) (int64, error){
		"one_by_one": r.InsertOneByOne,
		"one_tx":     r.InsertInOneTx,
		"multirow":   r.InsertMultiRow,
		"chunked":    func(ctx context.Context, us []users.User) (int64, error) { return r.insertMultiRow(ctx, us, 3) },
		"copy":       r.CopyFrom,
	} {
		n, err := insert(ctx, batch(name, 7))
		require.NoError(t, err, name)
		require.EqualValues(t, 7, n, name)
		p, err := r.PrefixSearch(ctx, name+"_", 10)
		require.NoError(t, err)
		require.Len(t, p.Items, 7, name)
	}
	require.Equal(t, 65535/10, MaxRowsPerInsert, "PostgreSQL's 65535 parameters over the users table's 10 columns")
	st, err := r.Stats(ctx, 30)
	require.NoError(t, err)
	require.EqualValues(t, 9+35, st.Active)
	require.EqualValues(t, 1, st.Deleted)
	require.Len(t, st.CreatedPerDay, 30)
}
