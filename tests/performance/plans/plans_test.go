package plans

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"usersvc/tests/performance/perfkit"
	"usersvc/tests/testdb"
)

// The plan table is only worth reading if it shows the statements the repository really
// sends: every call must have been captured and explained.
func TestPlansExplainTheStatementsTheRepositorySends(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dbURL, drop, err := testdb.Create("perf_plans")
	require.NoError(t, err)
	defer func() { require.NoError(t, drop()) }()
	require.NoError(t, perfkit.Migrate(ctx, dbURL))
	info, err := perfkit.Seed(ctx, dbURL, perfkit.Profile{Users: 3000, EventsPerUser: 2, DeletedEvery: 20})
	require.NoError(t, err)

	s, err := run(ctx, &perfkit.Env{DBURL: dbURL, Data: info})
	require.NoError(t, err)
	require.Len(t, s.Tables, 1)
	seen := map[string]string{}
	for _, row := range s.Tables[0].Rows {
		require.NotEmpty(t, row[2], "plan of %s", row[1])
		seen[row[0]] += row[1] + " " + row[2] + "\n"
	}
	for _, c := range calls(info) {
		require.Contains(t, seen, c.name, "no statement captured for %s", c.name)
	}
	email := seen["lookup by email (other case)"]
	require.True(t, strings.Contains(email, "lower(email)"), email)
	require.Contains(t, email, "users_email_lower", "an exact email lookup uses an email index:\n%s", email)
	require.Contains(t, seen["stats, 30 days"], "generate_series")
}
