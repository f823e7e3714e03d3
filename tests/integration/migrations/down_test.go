package migrations_test

import (
	"testing"

	"github.com/go-gormigrate/gormigrate/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gorm.io/gorm"

	"usersvc/migrations"
)

// bystanderSQL creates objects of every kind the catalog snapshot covers that are not ours,
// so the test can fail if rolling back drops too much, not only too little.
const bystanderSQL = `
	CREATE TYPE bystander_mood AS ENUM ('calm', 'busy');
	CREATE TABLE bystander (id serial PRIMARY KEY, mood bystander_mood NOT NULL, note text UNIQUE);
	CREATE INDEX bystander_note_idx ON bystander (lower(note));
	CREATE VIEW bystander_view AS SELECT id, note FROM bystander;
	CREATE FUNCTION bystander_touch() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NEW; END';
	CREATE TRIGGER bystander_touch BEFORE UPDATE ON bystander FOR EACH ROW EXECUTE FUNCTION bystander_touch();`

// `down --all` removes everything the migrations created and nothing else: the public
// schema is as before the first migration, but for the bookkeeping tables, which stay.
func TestDownAllLeavesNothingOfOurs(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	url := newDatabase(t, "down_all")
	conn := connect(t, url)
	r := newApp(t, url).Migrator()
	plan := ids(appPlan(t))

	_, err := conn.Exec(ctx, bystanderSQL)
	require.NoError(t, err)
	before := snapshotCatalog(t, conn)
	require.True(t, hasEntry(before, "relation bystander "), "the snapshot must see the bystander table")

	applied, err := r.Up(ctx, "")
	require.NoError(t, err)
	require.Equal(t, plan, applied)
	migrated := snapshotCatalog(t, conn)
	require.True(t, hasEntry(migrated, "relation users "), "the snapshot must see the users table")
	require.True(t, hasEntry(migrated, "relation schema_migrations "), "the snapshot must see the bookkeeping")

	rolledBack, err := r.Down(ctx, "", true)
	require.NoError(t, err)
	assert.Equal(t, reversed(plan), rolledBack, "down --all rolls back newest first")

	assert.Equal(t, before, withoutBookkeeping(snapshotCatalog(t, conn)))
	idsTable, history := recorded(t, conn)
	assert.Empty(t, idsTable)
	assert.Empty(t, history)
	pending, err := r.Pending(ctx)
	require.NoError(t, err)
	assert.Equal(t, len(plan), pending)
}

// widgetsID sorts after every real migration, so it is the newest in a test plan.
const widgetsID = "209912312359_test_create_widgets"

// widgets is a test-only third migration, so "roll back to an ID" and "roll back the last"
// roll back different sets.
func widgets() *gormigrate.Migration {
	return &gormigrate.Migration{
		ID: widgetsID,
		Migrate: func(tx *gorm.DB) error {
			return tx.Exec(`CREATE TABLE test_widgets (id int PRIMARY KEY, user_id uuid REFERENCES users (id))`).Error
		},
		Rollback: func(tx *gorm.DB) error { return tx.Exec(`DROP TABLE test_widgets`).Error },
	}
}

// `down --to ID` keeps ID and rolls back every later migration, newest first.
func TestDownToKeepsTargetAndRollsBackLater(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	url := newDatabase(t, "down_to")
	conn := connect(t, url)
	plan := testPlan(t, widgets())
	require.Equal(t, append(appIDs(t), widgetsID), ids(plan))
	r := newRunner(t, url, plan, migrations.Options{})

	_, err := r.Up(ctx, "")
	require.NoError(t, err)
	rolledBack, err := r.Down(ctx, createUsersID, false)
	require.NoError(t, err)
	assert.Equal(t, reversed(ids(plan[1:])), rolledBack)

	assert.True(t, relationExists(t, conn, "users"), "the target stays")
	assert.False(t, relationExists(t, conn, "user_events"))
	assert.False(t, relationExists(t, conn, "test_widgets"))
	idsTable, history := recorded(t, conn)
	assert.Equal(t, []string{createUsersID}, idsTable)
	assert.Equal(t, []string{createUsersID}, history)

	rolledBack, err = r.Down(ctx, createUsersID, false)
	require.NoError(t, err)
	assert.Empty(t, rolledBack, "nothing after the target is left to roll back")
	assert.True(t, relationExists(t, conn, "users"))

	_, err = r.Down(ctx, "209901010000_no_such_migration", false)
	require.ErrorIs(t, err, migrations.ErrUnknownID)
	assert.True(t, relationExists(t, conn, "users"), "an unknown target rolls back nothing")
}

// Plain Down rolls back only the newest applied migration, one per call.
func TestDownRollsBackOnlyTheLast(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	url := newDatabase(t, "down_last")
	conn := connect(t, url)
	plan := testPlan(t, widgets())
	r := newRunner(t, url, plan, migrations.Options{})

	_, err := r.Up(ctx, "")
	require.NoError(t, err)
	for i := len(plan) - 1; i >= 0; i-- {
		rolledBack, err := r.Down(ctx, "", false)
		require.NoError(t, err)
		require.Equal(t, []string{plan[i].ID}, rolledBack)
		idsTable, history := recorded(t, conn)
		assert.Equal(t, ids(plan[:i]), nonNil(idsTable), "after rolling back %s", plan[i].ID)
		assert.Equal(t, ids(plan[:i]), nonNil(history), "after rolling back %s", plan[i].ID)
	}
	assert.False(t, relationExists(t, conn, "users"))

	rolledBack, err := r.Down(ctx, "", false)
	require.NoError(t, err)
	assert.Empty(t, rolledBack, "nothing is left to roll back")
}

// nonNil turns a nil slice into an empty one, for comparisons with ids(plan[:0]).
func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
