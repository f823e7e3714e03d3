// Package users holds the users module's migrations, one file each. Migrations never import
// the module's models: each freezes the SQL of its day, so it keeps meaning what it meant.
package users

import (
	"github.com/go-gormigrate/gormigrate/v2"

	"usersvc/migrations"
)

// All is the users module's migrations in order. Add new ones at the bottom.
func All() []*gormigrate.Migration {
	return []*gormigrate.Migration{
		createUsers(),
		createUserEvents(),
		addUserGeneration(),
		indexUserEmailsApart(),
		countUsers(),
		countRegistrationsInSlots(),
		indexUserEmailsApartByPattern(),
		addUserEventActor(),
		keyUserEmails(),
	}
}

// exec runs a migration's statements in order (the committed migrations call it by this name).
var exec = migrations.Exec
