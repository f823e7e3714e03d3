package migrations_test

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// seedUsersSQL is frozen like a migration: rows as the schema of 202611250001_create_users
// takes them, live and soft-deleted, one relying on the column defaults, and two sharing a
// username (allowed: uniqueness binds only live rows).
const seedUsersSQL = `
	INSERT INTO users (id, username, email, full_name, version, created_at, updated_at, deleted_at) VALUES
	('00000000-0000-4000-8000-000000000001', 'alice', 'alice@example.com', 'Alice Liddell', 3,
		'2026-11-25 10:00:00.123456+00', '2026-11-26 11:30:00.654321+00', NULL),
	('00000000-0000-4000-8000-000000000002', 'Bob_99', 'BOB@Example.COM', 'Bob «Ünïcødé» Ø', 1,
		'2026-11-25 10:00:01+00', '2026-11-25 10:00:01+00', NULL),
	('00000000-0000-4000-8000-000000000003', 'carol', 'carol@example.com', '', 2,
		'2026-11-25 10:00:02+00', '2026-11-27 09:00:00+00', '2026-11-27 09:00:00+00'),
	('00000000-0000-4000-8000-000000000004', 'carol', 'carol2@example.com', 'Carol Again', 1,
		'2026-11-28 08:00:00+00', '2026-11-28 08:00:00+00', NULL);
	INSERT INTO users (id, username, email, created_at, updated_at) VALUES
	('00000000-0000-4000-8000-000000000005', 'dave', 'dave@example.com',
		'2026-11-25 10:00:03+00', '2026-11-25 10:00:03+00');`

// seededUsers reads the seeded columns of every user as PostgreSQL's text of the row, which
// compares values exactly (microseconds, collation-free bytes, NULLs).
const seededUsers = `SELECT row(id, username, email, full_name, version, created_at, updated_at, deleted_at)::text
	FROM users ORDER BY id`

// Rows written under the first migration survive every later migration with exactly their
// values: later migrations may add, never damage.
func TestLaterMigrationsPreserveData(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	url := newDatabase(t, "data_preserved")
	conn := connect(t, url)
	_, err := conn.Exec(ctx, `SET TIME ZONE 'UTC'`)
	require.NoError(t, err)
	r := newApp(t, url).Migrator()
	plan := appPlan(t)
	require.Equal(t, createUsersID, plan[0].ID)
	require.Greater(t, len(plan), 1, "no later migration to prove anything about")

	_, err = r.Up(ctx, createUsersID)
	require.NoError(t, err)
	_, err = conn.Exec(ctx, seedUsersSQL)
	require.NoError(t, err)
	seeded := queryStrings(t, conn, seededUsers)
	require.Len(t, seeded, 5)
	require.Equal(t, `(00000000-0000-4000-8000-000000000005,dave,dave@example.com,"",1,"2026-11-25 10:00:03+00","2026-11-25 10:00:03+00",)`,
		seeded[4], "the defaults of migration 1")

	for _, m := range plan[1:] {
		applied, err := r.Up(ctx, m.ID)
		require.NoError(t, err)
		require.Equal(t, []string{m.ID}, applied)
		require.Equal(t, seeded, queryStrings(t, conn, seededUsers), "users rows after %s", m.ID)
	}
}
