package migrations_test

import (
	"errors"
	"testing"

	"github.com/go-gormigrate/gormigrate/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gorm.io/gorm"

	"usersvc/migrations"
)

const brokenID = "209912312359_test_broken"

var errBroken = errors.New("test migration fails on purpose")

// broken changes the schema, then fails.
func broken() *gormigrate.Migration {
	return &gormigrate.Migration{
		ID: brokenID,
		Migrate: func(tx *gorm.DB) error {
			for _, stmt := range []string{
				`CREATE TABLE test_half_done (id int PRIMARY KEY)`,
				`ALTER TABLE users ADD COLUMN nickname text`,
				`CREATE INDEX users_nickname_idx ON users (nickname)`,
			} {
				if err := tx.Exec(stmt).Error; err != nil {
					return err
				}
			}
			return errBroken
		},
		Rollback: func(tx *gorm.DB) error { return nil },
	}
}

// A failing migration rolls back its own changes (each migration has a transaction of its
// own), keeps the earlier ones applied and recorded, and Up names it in the error.
func TestFailingMigrationRollsBackOnlyItself(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	url := newDatabase(t, "failing_migration")
	conn := connect(t, url)
	r := newRunner(t, url, testPlan(t, broken()), migrations.Options{})

	applied, err := r.Up(ctx, "")
	require.Error(t, err)
	assert.ErrorIs(t, err, errBroken)
	assert.Contains(t, err.Error(), brokenID)
	before := appIDs(t)
	assert.Equal(t, before, applied, "what was applied before the failure")

	idsTable, history := recorded(t, conn)
	assert.Equal(t, before, idsTable)
	assert.Equal(t, before, history)
	assert.True(t, relationExists(t, conn, "users"))
	assert.True(t, relationExists(t, conn, "user_events"))
	assert.False(t, relationExists(t, conn, "test_half_done"), "the failed migration's table")
	assert.False(t, columnExists(t, conn, "users", "nickname"), "the failed migration's column")
	assert.False(t, relationExists(t, conn, "users_nickname_idx"), "the failed migration's index")

	st, err := r.Status(ctx)
	require.NoError(t, err)
	byID := statusByID(st)
	assert.True(t, byID[createUsersID].Applied)
	assert.NotNil(t, byID[createUsersID].AppliedAt)
	assert.True(t, byID[createUserEventsID].Applied)
	assert.NotNil(t, byID[createUserEventsID].AppliedAt)
	assert.False(t, byID[brokenID].Applied)
	pending, err := r.Pending(ctx)
	require.NoError(t, err)
	assert.Equal(t, 1, pending)

	// Running again retries only the broken one, which fails the same way.
	applied, err = r.Up(ctx, "")
	assert.ErrorIs(t, err, errBroken)
	assert.Empty(t, applied)
}
