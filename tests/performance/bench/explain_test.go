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

	"usersvc/modules/users"
	"usersvc/platform/db"
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
	lo, hi := db.PrefixRange(name[:len(name)-1])
	after, err := f.pgx.OffsetPage(ctx, f.live/2, 1)
	require.NoError(t, err)
	require.Len(t, after, 1)
	limit := lookupLimit + 1
	// A prefix search in username order: a prefix shared by ~1% of the users, first page and
	// the page after the first row.
	plo, phi := db.PrefixRange(name[:len(name)-3])
	cases := []struct {
		name, sql string
		args      []any
		indexes   []string // each a prefix of an index name the plan must use
	}{
		{"prefix by name", pgxrepo.SQLPrefixByName, []any{plo, phi, limit, plo, phi, plo, phi, limit, plo, plo, plo, phi, limit, limit},
			[]string{"users_username_lower_", "users_pkey"}},
		{"prefix by name, next page", pgxrepo.SQLPrefixByNameNext, []any{plo, phi, db.ASCIILower(name), perfkit.ID(i), limit,
			plo, phi, plo, phi, db.ASCIILower(name), perfkit.ID(i), limit, plo, plo, plo, phi, db.ASCIILower(name), perfkit.ID(i), limit, limit},
			[]string{"users_username_lower_", "users_pkey"}},
		{"username", pgxrepo.SQLByUsername, []any{name, limit}, []string{"users_username_lower_"}},
		{"email", pgxrepo.SQLByEmail, []any{db.ASCIILower(email), limit}, []string{"users_email_lower_"}},
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
				// A scan of the username index without a condition on it walks the index
				// from its start: what the search in username order must never do.
				if strings.HasPrefix(n.Index, "users_username_lower_") {
					assert.NotEmpty(t, n.IndexCond, "%s walks %s:\n%s", tc.name, n.Index, raw)
				}
			}
			for _, index := range tc.indexes {
				assert.True(t, slices.ContainsFunc(used, func(u string) bool { return strings.HasPrefix(u, index) }),
					"plan does not use %s*:\n%s", index, raw)
			}
		})
	}
}

// The baseline's prefix search in username order sends the repository's statements (first
// page and next) and returns the repository's rows, page by page. (TestSameSQLAsGORM checks
// the other statements.)
func TestPrefixByNameIsTheRepositorys(t *testing.T) {
	f := env(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	a, err := perfkit.OpenApp(ctx, f.url, 2)
	require.NoError(t, err)
	defer func() { require.NoError(t, a.Close()) }()
	log := &sqlLog{set: map[string]bool{}}
	require.NoError(t, a.DB().Callback().Row().After("gorm:row").Register("bench:sql", log.record))
	require.NoError(t, a.DB().Callback().Raw().After("gorm:raw").Register("bench:sql", log.record))
	repo, err := perfkit.UsersRepository(a)
	require.NoError(t, err)

	prefix := strings.ToUpper(perfkit.Username(f.info.LiveUser(f.info.Users / 2))[:9]) // ~1 in 1000 users
	q := users.ListQuery{Q: prefix, Limit: 3, State: users.StateActive, Sort: users.SortUsername}
	var after *pgxrepo.NameKey
	for page := 0; page < 3; page++ {
		g, err := repo.List(ctx, q)
		require.NoError(t, err)
		p, next, err := f.pgx.PrefixByName(ctx, prefix, after, q.Limit)
		require.NoError(t, err)
		require.NotEmpty(t, p, "page %d", page)
		require.Equal(t, utc(g.Items...), utc(p...), "page %d", page)
		require.Equal(t, g.Next != "", next != nil, "page %d", page)
		if next == nil {
			break
		}
		q.Cursor, after = g.Next, next
	}
	for name, sql := range map[string]string{"PrefixByName": pgxrepo.SQLPrefixByName, "PrefixByNameNext": pgxrepo.SQLPrefixByNameNext} {
		require.True(t, log.set[sql], "pgxrepo.SQL%s is not what the repository sends:\n%s", name, sql)
	}
}
