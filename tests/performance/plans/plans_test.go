package plans

import (
	"context"
	"encoding/json"
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
	require.Len(t, s.Tables, 2, "the plans, and what the prefix searches read")
	seen := map[string]string{}
	for _, row := range s.Tables[0].Rows {
		require.NotEmpty(t, row[2], "plan of %s", row[1])
		seen[row[0]] += row[1] + " " + row[2] + "\n"
	}
	for _, c := range calls(info) {
		require.Contains(t, seen, c.name, "no statement captured for %s", c.name)
	}
	require.Len(t, s.Tables[1].Rows, 4, "the prefix searches' statements: two calls of one, one of two")
	email := seen["lookup by email (other case)"]
	require.True(t, strings.Contains(email, "lower(email)"), email)
	require.Contains(t, email, "users_email_lower", "an exact email lookup uses an email index:\n%s", email)
	require.Contains(t, seen["stats, 30 days"], "user_day_counts", "stats read the counters, not users")
	require.NotContains(t, seen["stats, 30 days"], "Seq Scan on users")
	require.Contains(t, seen["prefix search, selective"], "users_email_lower_other_idx", "the other emails come from their own index")
	for _, tg := range s.Targets {
		if strings.Contains(tg.Name, "no walk") || strings.Contains(tg.Name, "Seq Scan") {
			require.True(t, tg.Met, "%s: %s", tg.Name, tg.Got)
		}
	}
	for _, key := range []string{"prefix_by_username_ms", "prefix_by_username_selective_ms", "stats_ms"} {
		require.Contains(t, s.Metrics, key)
	}
	require.Zero(t, s.Metrics["prefix_search_walks"])
}

// The plan PostgreSQL chose for "username OR email starts with q, in username order" before
// the search was split, at 1M users with q = user0050 (trimmed to what describe reads): a walk
// of the username index from its start, 475,000 rows filtered out for 26 kept. The check must
// call it a walk, and the search's plan since (a page and a few index descents) not.
func TestWalkOfTheUsernameIndexIsCaught(t *testing.T) {
	var old, split Node
	require.NoError(t, json.Unmarshal([]byte(oldPrefixPlan), &old))
	require.NoError(t, json.Unmarshal([]byte(splitPrefixPlan), &split))
	x := describe(old)
	require.EqualValues(t, 26, x.Rows)
	require.EqualValues(t, 475000, x.Removed)
	require.True(t, x.walked(), "%+v", x)
	y := describe(split)
	require.False(t, y.walked(), "%+v", y)
	require.True(t, explained{Rows: 26, Buffers: 10921}.walked(), "buffers alone, far more than a page's, are a walk too")
}

const oldPrefixPlan = `{"Node Type": "Limit", "Actual Rows": 26, "Actual Loops": 1, "Shared Hit Blocks": 147,
	"Shared Read Blocks": 10774, "Plans": [{"Node Type": "Incremental Sort", "Actual Rows": 26, "Actual Loops": 1,
	"Shared Hit Blocks": 147, "Shared Read Blocks": 10774, "Plans": [{"Node Type": "Index Scan",
	"Index Name": "users_username_lower_key", "Relation Name": "users", "Actual Rows": 27, "Actual Loops": 1,
	"Rows Removed by Filter": 475000, "Shared Hit Blocks": 139, "Shared Read Blocks": 10773}]}]}`

const splitPrefixPlan = `{"Node Type": "Sort", "Actual Rows": 26, "Actual Loops": 1, "Shared Hit Blocks": 132,
	"Plans": [{"Node Type": "Nested Loop", "Actual Rows": 26, "Actual Loops": 1, "Shared Hit Blocks": 132, "Plans": [
	{"Node Type": "Index Only Scan", "Index Name": "users_email_lower_other_idx", "Relation Name": "users",
	 "Actual Rows": 0, "Actual Loops": 1, "Rows Removed by Filter": 0, "Shared Hit Blocks": 2},
	{"Node Type": "Index Scan", "Index Name": "users_username_lower_key", "Relation Name": "users",
	 "Actual Rows": 0, "Actual Loops": 1, "Rows Removed by Filter": 3, "Shared Hit Blocks": 21},
	{"Node Type": "Index Scan", "Index Name": "users_pkey", "Relation Name": "users", "Actual Rows": 1,
	 "Actual Loops": 26, "Shared Hit Blocks": 104}]}]}`
