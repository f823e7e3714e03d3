package teams_test

import (
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gorm.io/gorm"

	"usersvc/platform/db"
)

// Statements are attributed to the module whose code runs them, also inside another
// module's transaction: adding a member runs the users contract's lock in the teams
// transaction, and that lock is the users module's statement. The table-ownership check
// (module.Ownership, on every test server) relies on it.
func TestStatementsCarryTheirModule(t *testing.T) {
	var mu sync.Mutex
	var sent [][2]string // module, SQL
	record := func(tx *gorm.DB) {
		mu.Lock()
		defer mu.Unlock()
		sent = append(sent, [2]string{db.ModuleOf(tx.Statement.Context), tx.Statement.SQL.String()})
	}
	cb := srv.DB.Callback()
	require.NoError(t, cb.Query().After("gorm:query").Register("test:attribution", record))
	require.NoError(t, cb.Create().After("gorm:create").Register("test:attribution", record))
	defer func() {
		_ = cb.Query().Remove("test:attribution")
		_ = cb.Create().Remove("test:attribution")
	}()

	tm, user := newTeam(t, "Attributed"), newUser(t)
	require.Equal(t, http.StatusCreated, srv.Do(t, http.MethodPut, "/api/v1/teams/"+tm.ID+"/members/"+user, nil).Status)
	moduleOf := func(fragments ...string) string {
		mu.Lock()
		defer mu.Unlock()
		for _, s := range sent {
			all := true
			for _, f := range fragments {
				all = all && strings.Contains(s[1], f)
			}
			if all {
				return s[0]
			}
		}
		return "(not sent)"
	}
	assert.Equal(t, "teams", moduleOf(`FROM "teams"`, "FOR KEY SHARE"), "the team's lock")
	assert.Equal(t, "users", moduleOf(`FROM "users"`, "FOR KEY SHARE"), "the user's lock, by the users contract")
	assert.Equal(t, "teams", moduleOf(`INSERT INTO "team_members"`))
	assert.Equal(t, "users", moduleOf(`INSERT INTO "users"`))
}
