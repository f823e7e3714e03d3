package scale

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"usersvc/tests/performance/perfkit"
	"usersvc/tests/testdb"
)

// The suite runs end to end on a small table (its own extra tables are a tenth and a
// hundredth of it): every operation answers correctly on every size, the deep page's cursor
// is the one the repository would have issued, and the extra databases are gone afterwards.
func TestSuiteMeasuresEveryOperationOnEverySizeAndDropsItsDatabases(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	dbURL, drop, err := testdb.Create("perf_scale")
	require.NoError(t, err)
	defer func() { require.NoError(t, drop()) }()
	require.NoError(t, perfkit.Migrate(ctx, dbURL))
	const users = 6_100 // extra tables of 61 and 610 users: names no other test uses
	info, err := perfkit.Seed(ctx, dbURL, perfkit.Profile{Users: users, EventsPerUser: 1, DeletedEvery: 20})
	require.NoError(t, err)

	s, err := run(ctx, &perfkit.Env{DBURL: dbURL, Data: info})
	require.NoError(t, err)
	require.Len(t, s.Tables, 1)
	tb := s.Tables[0]
	require.Equal(t, []string{"operation", "61", "610", "6,100", "6,100 ÷ 61", "target"}, tb.Header)
	require.Len(t, tb.Rows, 1+len(operations(users)))
	require.Equal(t, "61 (58)", tb.Rows[0][1])
	for _, r := range tb.Rows[1:] {
		for _, c := range r[1:4] {
			require.Regexp(t, `^[0-9.]+ / [0-9.]+`, c, "row %s", r[0])
		}
	}
	deep := tb.Rows[3]
	require.Contains(t, deep[0], "3,050 rows deep")
	require.Contains(t, deep[1], "(33 deep)", "58 live users: the deepest full page")
	require.Contains(t, deep[2], "(555 deep)", "580 live users")
	require.NotContains(t, deep[3], "deep)")
	require.Len(t, s.Targets, len(operations(users)))
	for _, k := range []string{"get_by_id", "first_page", "deep_page", "prefix_search", "stats"} {
		require.Contains(t, s.Metrics, "scale_"+k+"_growth")
		require.Contains(t, s.Metrics, "scale_"+k+"_6100_p95_ms")
	}
	requireNoDatabases(t, ctx, "perf_scale_61_", "perf_scale_610_")
}

// A failure after an extra database was created still drops it.
func TestFailureDropsTheExtraDatabases(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// Every user deleted: too few live users for the suite, once the table is seeded.
	env := &perfkit.Env{Data: perfkit.SeedInfo{Users: 7_100, EventsPerUser: 1, DeletedEvery: 1}}
	_, closeAll, err := openDatasets(ctx, env, []int{71, 7_100})
	require.ErrorContains(t, err, "0 live users")
	closeAll()
	requireNoDatabases(t, ctx, "perf_scale_71_")
}

func requireNoDatabases(t *testing.T, ctx context.Context, labels ...string) {
	t.Helper()
	admin, err := pgx.Connect(ctx, testdb.AdminURL())
	require.NoError(t, err)
	defer admin.Close(ctx)
	for _, l := range labels {
		var n int
		pattern := strings.ReplaceAll(testdb.Prefix+l, "_", `\_`) + "%"
		require.NoError(t, admin.QueryRow(ctx, `SELECT count(*) FROM pg_database WHERE datname LIKE $1`, pattern).Scan(&n))
		require.Zero(t, n, "databases %s* left behind", testdb.Prefix+l)
	}
}
