package migrations_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// `server migrate status` lists every migration in order, applied ones with when (RFC 3339,
// UTC) and pending ones with "-", and only reads: on an empty database it creates nothing.
func TestMigrateStatusListsEveryMigration(t *testing.T) {
	t.Parallel()
	url := newDatabase(t, "status_cli")
	conn := connect(t, url)
	want := ids(appPlan(t))

	res := runServer(t, url, "migrate", "status")
	require.Equal(t, 0, res.code, "stderr: %s", res.stderr)
	order, rows := parseStatus(t, res.stdout)
	assert.Equal(t, want, order)
	for _, id := range want {
		assert.Equal(t, statusLine{state: "pending", at: "-"}, rows[id], id)
	}
	assert.False(t, relationExists(t, conn, "schema_migrations"), "status must only read")

	start := serverNow(t, conn).Truncate(time.Second) // printed to the second
	res = runServer(t, url, "migrate", "up", "--to", createUsersID)
	require.Equal(t, 0, res.code, "stderr: %s", res.stderr)
	assert.Equal(t, []string{"applied " + createUsersID}, lines(res.stdout))
	end := serverNow(t, conn)

	res = runServer(t, url, "migrate", "status")
	require.Equal(t, 0, res.code, "stderr: %s", res.stderr)
	order, rows = parseStatus(t, res.stdout)
	assert.Equal(t, want, order)
	for _, id := range want {
		row := rows[id]
		if id != createUsersID {
			assert.Equal(t, statusLine{state: "pending", at: "-"}, row, id)
			continue
		}
		assert.Equal(t, "applied", row.state, id)
		at, err := time.Parse(time.RFC3339, row.at)
		if assert.NoError(t, err, "%s: applied at %q", id, row.at) {
			assert.True(t, strings.HasSuffix(row.at, "Z"), "%s: applied at %q is not UTC", id, row.at)
			assert.WithinRange(t, at, start, end, id)
		}
	}
}

// `migrate up --to` an ID that is not in the list fails with one line naming it, and applies
// nothing: a typo must not migrate to the latest.
func TestMigrateUpToUnknownIDFails(t *testing.T) {
	t.Parallel()
	url := newDatabase(t, "up_to_unknown")
	conn := connect(t, url)
	const missing = "202611250099_no_such_migration"

	res := runServer(t, url, "migrate", "up", "--to", missing)
	requireOneLineFailure(t, res, missing)
	for _, l := range lines(res.stdout) {
		assert.False(t, strings.HasPrefix(l, "applied "), "stdout: %q", l)
	}
	assert.False(t, relationExists(t, conn, "users"), "nothing may be applied")

	res = runServer(t, url, "migrate", "down", "--to", missing)
	requireOneLineFailure(t, res, missing)
}

// A database migrated by plain gormigrate (its table, not our history table) counts its
// migrations as applied, for status and readiness as for `migrate up`.
func TestStatusCountsMigrationsRecordedOnlyByGormigrate(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	url := newDatabase(t, "gormigrate_only")
	r := newApp(t, url).Migrator()
	_, err := r.Up(ctx, "")
	require.NoError(t, err)
	conn := connect(t, url)
	_, err = conn.Exec(ctx, `DROP TABLE schema_migrations_history`)
	require.NoError(t, err)

	pending, err := r.Pending(ctx)
	require.NoError(t, err)
	assert.Zero(t, pending)
	st, err := r.Status(ctx)
	require.NoError(t, err)
	for _, s := range st {
		assert.True(t, s.Applied, s.ID)
		assert.Nil(t, s.AppliedAt, "%s: when is unknown", s.ID)
	}
	applied, err := r.Up(ctx, "")
	require.NoError(t, err)
	assert.Empty(t, applied)
}
