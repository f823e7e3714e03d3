// Package teams holds the teams module's migrations, one file each, frozen SQL.
package teams

import (
	"github.com/go-gormigrate/gormigrate/v2"

	"usersvc/migrations"
)

// All is the teams module's migrations in order. Add new ones at the bottom.
func All() []*gormigrate.Migration {
	return []*gormigrate.Migration{
		createTeams(),
		createTeamEvents(),
		createTeamMembers(),
		addTeamEventActor(),
	}
}

// exec runs a migration's statements in order.
var exec = migrations.Exec
