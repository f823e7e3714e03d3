package migrations_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// An empty database is brought to the latest schema by one Up, every migration is reported
// applied with when, none is pending (what /readyz checks), and a second Up is a no-op.
func TestUpMigratesEmptyDatabaseToLatest(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	url := newDatabase(t, "up_latest")
	conn := connect(t, url)
	r := newApp(t, url).Migrator()
	want := ids(appPlan(t))

	st, err := r.Status(ctx)
	require.NoError(t, err)
	require.Len(t, st, len(want))
	for i, s := range st {
		assert.Equal(t, want[i], s.ID)
		assert.True(t, s.Known, s.ID)
		assert.False(t, s.Applied, s.ID)
		assert.Nil(t, s.AppliedAt, s.ID)
	}
	pending, err := r.Pending(ctx)
	require.NoError(t, err)
	assert.Equal(t, len(want), pending)
	assert.False(t, relationExists(t, conn, "schema_migrations"), "Status and Pending must only read")

	start := serverNow(t, conn)
	applied, err := r.Up(ctx, "")
	require.NoError(t, err)
	end := serverNow(t, conn)
	assert.Equal(t, want, applied)

	st, err = r.Status(ctx)
	require.NoError(t, err)
	require.Len(t, st, len(want))
	for i, s := range st {
		assert.Equal(t, want[i], s.ID)
		assert.True(t, s.Known, s.ID)
		assert.True(t, s.Applied, s.ID)
		if assert.NotNil(t, s.AppliedAt, s.ID) {
			assert.WithinRange(t, *s.AppliedAt, start, end, s.ID)
		}
	}
	pending, err = r.Pending(ctx)
	require.NoError(t, err)
	assert.Zero(t, pending)
	assert.True(t, relationExists(t, conn, "users"))
	assert.True(t, relationExists(t, conn, "user_events"))

	again, err := r.Up(ctx, "")
	require.NoError(t, err)
	assert.Empty(t, again, "a second Up must apply nothing")
	st2, err := r.Status(ctx)
	require.NoError(t, err)
	assert.Equal(t, st, st2, "a second Up must not touch the bookkeeping")
	idsTable, history := recorded(t, conn)
	assert.Equal(t, want, idsTable)
	assert.Equal(t, want, history)
}

// The tests that act on migrations by name (createUsersID, createUserEventsID) rely on these
// two opening the plan: any other module's migration comes after them.
func TestPlanStartsWithTheUsersTables(t *testing.T) {
	require.Equal(t, []string{createUsersID, createUserEventsID}, appIDs(t)[:2])
}
