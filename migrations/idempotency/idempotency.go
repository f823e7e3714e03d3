// Package idempotency holds the migrations of the platform's idempotency-key store, one file
// each, frozen SQL.
package idempotency

import (
	"github.com/go-gormigrate/gormigrate/v2"

	"usersvc/migrations"
)

// All is the idempotency store's migrations in order. Add new ones at the bottom.
func All() []*gormigrate.Migration {
	return []*gormigrate.Migration{
		createIdempotencyKeys(),
	}
}

// exec runs a migration's statements in order (the committed migrations call it by this name).
var exec = migrations.Exec
