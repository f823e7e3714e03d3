package architecture

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"usersvc/app"
	"usersvc/platform/module"
)

func TestTablesIn(t *testing.T) {
	assert.Equal(t, []string{"users", "user_events"},
		module.TablesIn(`SELECT * FROM "users" u JOIN user_events e ON e.user_id = u.id`))
	assert.Equal(t, []string{"team_members", "user_directory", "team_events"},
		module.TablesIn(`WITH gone AS (DELETE FROM team_members m USING user_directory u WHERE true RETURNING 1)
			INSERT INTO team_events SELECT * FROM generate_series(1, 2), gone`))
	assert.Empty(t, module.TablesIn(`SELECT extract(epoch FROM now())`), "functions are not tables")
}

// The check fails a module that names another module's table, and one that names a
// published view of a module it does not declare it uses; it lets a module name its own
// tables, the views of the modules it uses, and the platform name anything.
func TestOwnershipCheck(t *testing.T) {
	o, err := module.NewOwnership(app.Modules(app.Deps{}))
	require.NoError(t, err)
	for _, c := range []struct {
		module, sql string
		ok          bool
	}{
		{"teams", `SELECT * FROM "teams" WHERE id = $1`, true},
		{"teams", `SELECT m.* FROM team_members AS m JOIN user_directory u ON u.id = m.user_id`, true},
		{"teams", `SELECT count(*) FROM users WHERE id = $1`, false},
		{"teams", `DELETE FROM team_members m USING user_events e WHERE true`, false},
		{"users", `SELECT * FROM "users" WHERE id = $1 FOR KEY SHARE`, true},
		{"users", `SELECT * FROM team_members`, false},
		{"users", `SELECT * FROM user_directory`, true},
		{"", `SELECT * FROM users JOIN team_members ON true`, true},
		{"users", `INSERT INTO event_receipts VALUES (1)`, true},
	} {
		got := o.Check(c.module, c.sql)
		assert.Equal(t, c.ok, got == "", "%s: %s → %q", c.module, c.sql, got)
	}
}
