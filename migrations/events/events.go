// Package events holds the migrations of the platform's event store, one file each, frozen:
// River's job tables (the SQL of River v0.51.2's own migrations, in river/) and the receipts
// that make each delivery's effect happen once.
package events

import (
	"github.com/go-gormigrate/gormigrate/v2"

	"usersvc/migrations"
)

// All is the event store's migrations in order. Add new ones at the bottom.
func All() []*gormigrate.Migration {
	return []*gormigrate.Migration{
		createRiverV1ToV4(),
		createRiverV5ToV8(),
		createEventReceipts(),
	}
}

// exec runs a migration's statements in order.
var exec = migrations.Exec
