package migrations_test

import (
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"usersvc/migrations"
)

// futureID is a migration applied by some newer release that this binary does not know.
const futureID = "209901010000_from_the_future"

// migratedWithUnknown returns a database migrated to the first migration only, that also
// records futureID as applied, as a newer release would have left it.
func migratedWithUnknown(t *testing.T, label string) (string, *pgx.Conn) {
	t.Helper()
	url := newDatabase(t, label)
	_, err := newApp(t, url).Migrator().Up(t.Context(), createUsersID)
	require.NoError(t, err)
	conn := connect(t, url)
	_, err = conn.Exec(t.Context(), `INSERT INTO schema_migrations (id) VALUES ($1)`, futureID)
	require.NoError(t, err)
	_, err = conn.Exec(t.Context(), `INSERT INTO schema_migrations_history (id) VALUES ($1)`, futureID)
	require.NoError(t, err)
	return url, conn
}

// A database ahead of the code is refused: `migrate up` exits 1 with one line naming the
// unknown migration, and applies nothing, not even the pending known ones.
func TestMigrateUpRefusesUnknownMigrations(t *testing.T) {
	t.Parallel()
	url, conn := migratedWithUnknown(t, "unknown_cli")

	res := runServer(t, url, "migrate", "up")
	requireOneLineFailure(t, res, futureID)
	assert.NotContains(t, res.stdout, "applied "+createUserEventsID)
	assert.False(t, relationExists(t, conn, "user_events"), "nothing may be applied")
	idsTable, history := recorded(t, conn)
	assert.Equal(t, []string{createUsersID, futureID}, idsTable)
	assert.Equal(t, []string{createUsersID, futureID}, history)

	res = runServer(t, url, "migrate", "down", "--all")
	requireOneLineFailure(t, res, futureID)
	assert.True(t, relationExists(t, conn, "users"), "nothing may be rolled back either")
}

// The same refusal through the API, as a sentinel error, and Status lists the unknown ID
// after the known ones.
func TestRunnerReportsUnknownMigrations(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	url, _ := migratedWithUnknown(t, "unknown_api")
	r := newApp(t, url).Migrator()

	applied, err := r.Up(ctx, "")
	require.ErrorIs(t, err, migrations.ErrUnknownMigrations)
	assert.Contains(t, err.Error(), futureID)
	assert.Empty(t, applied)

	st, err := r.Status(ctx)
	require.NoError(t, err)
	require.Len(t, st, len(appIDs(t))+1)
	unknown := st[len(st)-1]
	assert.Equal(t, futureID, unknown.ID)
	assert.True(t, unknown.Applied)
	assert.False(t, unknown.Known)
	assert.NotNil(t, unknown.AppliedAt, "the history table knows when the newer binary applied it")
	assert.Equal(t, createUsersID, st[0].ID)
	assert.True(t, st[0].Applied && st[0].Known)
	assert.Equal(t, createUserEventsID, st[1].ID)
	assert.False(t, st[1].Applied)
}

// `migrate status` lists the unknown migration as unknown, beside the known ones.
func TestMigrateStatusListsUnknownMigrations(t *testing.T) {
	t.Parallel()
	url, _ := migratedWithUnknown(t, "unknown_status")

	res := runServer(t, url, "migrate", "status")
	require.Equal(t, 0, res.code, "stderr: %s", res.stderr)
	order, rows := parseStatus(t, res.stdout)
	assert.Equal(t, append(appIDs(t), futureID), order)
	assert.Equal(t, "applied", rows[createUsersID].state)
	assert.Equal(t, "pending", rows[createUserEventsID].state)
	assert.Contains(t, rows[futureID].state, "unknown")
}
