package teams_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
	"gorm.io/gorm"

	"usersvc/tests/apitest"
	"usersvc/tests/testapp"
)

// The teams module's queries are answered from its indexes on tables large enough for the
// planner to care: 20,000 teams, 20,000 users, 100,000 memberships (the SQL the app really
// sent, checked with EXPLAIN).
func TestTeamQueriesUseTheirIndexes(t *testing.T) {
	s, err := testapp.Start("teams_explain", testapp.Options{})
	require.NoError(t, err)
	defer func() { require.NoError(t, s.Close()) }()
	require.NoError(t, s.DB.Transaction(func(tx *gorm.DB) error {
		for _, stmt := range []string{
			`SET LOCAL statement_timeout = 0`,
			`INSERT INTO teams (id, name, description, created_at, updated_at, deleted_at)
			 SELECT gen_random_uuid(), format('Team %s', lpad(i::text, 6, '0')), '', now() - i * interval '1 minute', now(),
			        CASE WHEN i % 10 = 0 THEN now() END
			 FROM generate_series(1, 20000) AS i`,
			`INSERT INTO users (id, username, email, created_at, updated_at)
			 SELECT gen_random_uuid(), format('member_%s', i), format('member_%s@example.com', i), now(), now()
			 FROM generate_series(1, 20000) AS i`,
			`INSERT INTO team_members (team_id, user_id, user_generation, role, added_at)
			 SELECT t.id, u.id, 1, 'member', now() - (random() * 1000) * interval '1 minute'
			 FROM (SELECT id, row_number() OVER () AS n FROM teams) t
			 JOIN (SELECT id, row_number() OVER () AS n FROM users) u ON u.n % 4000 = t.n % 4000`,
			`ANALYZE teams`, `ANALYZE users`, `ANALYZE team_members`,
		} {
			if err := tx.Exec(stmt).Error; err != nil {
				return err
			}
		}
		return nil
	}))
	var some struct{ TeamID, UserID string }
	require.NoError(t, s.DB.Raw(`SELECT m.team_id::text, m.user_id::text FROM team_members m
		JOIN teams t ON t.id = m.team_id AND t.deleted_at IS NULL LIMIT 1`).Scan(&some).Error)

	var log apitest.StatementLog
	log.Record(t, s)
	first := s.Do(t, http.MethodGet, "/api/v1/teams/"+some.TeamID+"/members?limit=1", nil)
	var p page[member]
	first.JSON(t, &p)
	require.NotNil(t, p.NextCursor)
	apitest.RequireIndexes(t, s, &log, []apitest.IndexCase{
		apitest.Index("first page by created_at", "/api/v1/teams", `ORDER BY created_at ASC`, "teams_created_at_id_idx"),
		apitest.Index("page by name", "/api/v1/teams?sort=name&state=all", `ORDER BY lower(name) ASC`, "teams_name_lower_id_idx"),
		apitest.Index("name prefix", "/api/v1/teams?sort=name&q=team%20012", `lower(name) >=`, "teams_name_lower_key"),
		apitest.Index("members, newest first", "/api/v1/teams/"+some.TeamID+"/members", `ORDER BY m.added_at DESC`,
			"team_members_team_id_added_at_user_id_idx"),
		apitest.Index("members, next page", "/api/v1/teams/"+some.TeamID+"/members?limit=1&cursor="+*p.NextCursor,
			`(m.added_at, m.user_id) <`, "team_members_team_id_added_at_user_id_idx"),
		apitest.Index("a user's teams", "/api/v1/teams?member="+some.UserID, `m.user_id =`, "team_members_user_id_idx"),
	})
}
