package users_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"gorm.io/gorm"

	"usersvc/tests/apitest"
	"usersvc/tests/testapp"
)

// TestQueriesUseTheirIndexes sends each list, lookup, events and stats request to a server
// whose tables hold enough rows for the planner to care, captures the SQL the app really sent,
// and checks with EXPLAIN that PostgreSQL answers it from the intended index, not a scan of
// the whole table.
func TestQueriesUseTheirIndexes(t *testing.T) {
	s, err := testapp.Start("explain", testapp.Options{})
	require.NoError(t, err)
	defer func() { require.NoError(t, s.Close()) }()
	seedLarge(t, s)

	var log apitest.StatementLog
	log.Record(t, s)

	var anyUser struct{ ID, Username, Email string }
	require.NoError(t, s.DB.Raw("SELECT id::text, username, email FROM users WHERE username = 'seed_012345'").Scan(&anyUser).Error)
	cursorPage := s.Do(t, http.MethodGet, "/api/v1/users?limit=2&sort=username&q=seed_01", nil)
	var page userPage
	cursorPage.JSON(t, &page)
	require.NotNil(t, page.NextCursor)

	apitest.RequireIndexes(t, s, &log, []apitest.IndexCase{
		apitest.Index("first page by created_at", "/api/v1/users", "ORDER BY created_at ASC", "users_created_at_id_idx"),
		apitest.Index("first page newest first", "/api/v1/users?sort=-created_at", "ORDER BY created_at DESC", "users_created_at_id_idx"),
		apitest.Index("page by username", "/api/v1/users?sort=username&state=all", "ORDER BY lower(username) ASC", "users_username_lower_id_idx"),
		apitest.Index("next page by username", "/api/v1/users?limit=2&sort=username&q=seed_01&cursor="+*page.NextCursor, "(lower(username), id) >", "users_username_lower"),
		// Live users: the partial unique indexes hold exactly the live rows.
		apitest.Index("prefix search", "/api/v1/users?q=seed_0123", "lower(email) >=", "users_username_lower_key", "users_email_lower_key"),
		apitest.Index("prefix search across states", "/api/v1/users?q=seed_0123&state=all", "lower(email) >=", "users_username_lower_id_idx", "users_email_lower_id_idx"),
		apitest.Index("username lookup", "/api/v1/users?username=SEED_012345", "lower(username) =", "users_username_lower_key"),
		apitest.Index("email lookup", "/api/v1/users?email="+strings.ToUpper(anyUser.Email), "lower(email) =", "users_email_lower_key"),
		apitest.Index("email lookup across states", "/api/v1/users?state=all&email="+anyUser.Email, "lower(email) =", "users_email_lower_id_idx"),
		apitest.Index("get by id", "/api/v1/users/"+anyUser.ID, `WHERE "id" = `, "users_pkey"),
		apitest.Index("events of a user", "/api/v1/users/"+anyUser.ID+"/events", "FROM \"user_events\"", "user_events_user_id_id_idx"),
	})
}

// seedLarge stores 50,000 users over two years (a tenth deleted) and 150,000 events, then
// refreshes the planner's statistics.
func seedLarge(t *testing.T, s *testapp.Server) {
	t.Helper()
	require.NoError(t, s.DB.Transaction(func(tx *gorm.DB) error {
		return seedStatements(tx)
	}))
}

func seedStatements(tx *gorm.DB) error {
	for _, stmt := range []string{
		`SET LOCAL statement_timeout = 0`, // seeding takes longer than a request may
		`INSERT INTO users (id, username, email, full_name, version, created_at, updated_at, deleted_at)
		 SELECT gen_random_uuid(), format('seed_%s', lpad(i::text, 6, '0')), format('seed_%s@example.com', lpad(i::text, 6, '0')),
		        'Seed ' || i, 1, now() - (i || ' minutes')::interval * 21, now(),
		        CASE WHEN i % 10 = 0 THEN now() END
		 FROM generate_series(1, 50000) AS i`,
		`INSERT INTO user_events (user_id, action, changes, at, actor)
		 SELECT u.id, 'updated', '{}', u.created_at + (k || ' hours')::interval, 'seed'
		 FROM users u CROSS JOIN generate_series(1, 3) AS k`,
		`ANALYZE users`,
		`ANALYZE user_events`,
	} {
		if err := tx.Exec(stmt).Error; err != nil {
			return err
		}
	}
	return nil
}
