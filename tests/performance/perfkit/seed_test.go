package perfkit

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"usersvc/tests/testdb"
)

// The suites address seeded users by number (Go) and by IDSQL (pgbench); both must name the
// rows Seed wrote, or every lookup benchmark would measure misses.
func TestSeedWritesTheUsersTheHelpersName(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dbURL, drop, err := testdb.Create("perfkit_seed")
	require.NoError(t, err)
	defer func() { require.NoError(t, drop()) }()
	require.NoError(t, Migrate(ctx, dbURL))

	p := Profile{Users: 120, EventsPerUser: 3, DeletedEvery: 10}
	info, err := Seed(ctx, dbURL, p)
	require.NoError(t, err)

	conn, err := pgx.Connect(ctx, dbURL)
	require.NoError(t, err)
	defer conn.Close(ctx)
	var users, deleted, events int
	require.NoError(t, conn.QueryRow(ctx, `SELECT count(*), count(deleted_at) FROM users`).Scan(&users, &deleted))
	require.NoError(t, conn.QueryRow(ctx, `SELECT count(*) FROM user_events`).Scan(&events))
	require.Equal(t, 120, users)
	require.Equal(t, 12, deleted)
	require.Equal(t, 360, events)

	for _, i := range []int{1, 10, 57, 120} {
		var username, email string
		var isDeleted bool
		err := conn.QueryRow(ctx, `SELECT username, email, deleted_at IS NOT NULL FROM users WHERE id = $1`, ID(i)).
			Scan(&username, &email, &isDeleted)
		require.NoError(t, err, "user %d", i)
		require.Equal(t, Username(i), username)
		require.Equal(t, Email(i), email)
		require.Equal(t, !info.Live(i), isDeleted, "user %d", i)

		var viaSQL string
		sql := `SELECT ` + strings.ReplaceAll(IDSQL, ":n", "$1::int") + `::text`
		require.NoError(t, conn.QueryRow(ctx, sql, i).Scan(&viaSQL))
		require.Equal(t, ID(i).String(), viaSQL)
	}
	for k := range 500 {
		require.True(t, info.Live(info.LiveUser(k)), "LiveUser(%d)", k)
	}
}
