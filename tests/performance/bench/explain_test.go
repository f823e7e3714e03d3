package bench

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"usersvc/tests/performance/perfkit"
	"usersvc/tests/performance/pgxrepo"
	"usersvc/tests/performance/plans"
)

// The benchmarked lookups, pages and events query must be index scans on the seeded data set
// (tests/integration/api/explain_test.go checks the app's statements on data of its own;
// TestSameSQLAsGORM ties these statements to the app's).
func TestBenchmarkedQueriesUseIndexes(t *testing.T) {
	f := env(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	i := f.info.LiveUser(f.info.Users / 2)
	name, email := perfkit.Username(i), perfkit.Email(i)
	lo, hi := prefixBounds(name[:len(name)-1])
	after, err := f.pgx.OffsetPage(ctx, f.live/2, 1)
	require.NoError(t, err)
	require.Len(t, after, 1)
	limit := lookupLimit + 1
	cases := []struct {
		name, sql string
		args      []any
		indexes   []string // each a prefix of an index name the plan must use
	}{
		{"username", pgxrepo.SQLByUsername, []any{name, limit}, []string{"users_username_lower_"}},
		{"email", pgxrepo.SQLByEmail, []any{lower(email), limit}, []string{"users_email_lower_"}},
		{"prefix", pgxrepo.SQLPrefix, []any{lo, hi, lo, hi, limit},
			[]string{"users_username_lower_", "users_email_lower_"}},
		{"keyset page", pgxrepo.SQLNextPage, []any{after[0].CreatedAt, after[0].ID, limit}, []string{"users_created_at_id_idx"}},
		{"events page", pgxrepo.SQLEvents, []any{perfkit.ID(i), limit}, []string{"user_events_user_id_id_idx"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var raw []byte
			require.NoError(t, f.pool.QueryRow(ctx, "EXPLAIN (FORMAT JSON) "+tc.sql, tc.args...).Scan(&raw))
			var plan []struct{ Plan plans.Node }
			require.NoError(t, json.Unmarshal(raw, &plan))
			var nodes []plans.Node
			plan[0].Plan.Walk(func(n plans.Node) { nodes = append(nodes, n) })
			var used []string
			for _, n := range nodes {
				assert.NotEqual(t, "Seq Scan", n.Type, "%s on %s:\n%s", n.Type, n.Relation, raw)
				if n.Index != "" {
					used = append(used, n.Index)
				}
			}
			for _, index := range tc.indexes {
				assert.True(t, slices.ContainsFunc(used, func(u string) bool { return strings.HasPrefix(u, index) }),
					"plan does not use %s*:\n%s", index, raw)
			}
		})
	}
}

func lower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}
