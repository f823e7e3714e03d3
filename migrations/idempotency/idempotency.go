// Package idempotency holds the migrations of the platform's idempotency-key store, one file
// each, frozen SQL.
package idempotency

import (
	"github.com/go-gormigrate/gormigrate/v2"
	"gorm.io/gorm"
)

// All is the idempotency store's migrations in order. Add new ones at the bottom.
func All() []*gormigrate.Migration {
	return []*gormigrate.Migration{
		createIdempotencyKeys(),
	}
}

func exec(tx *gorm.DB, statements ...string) error {
	for _, s := range statements {
		if err := tx.Exec(s).Error; err != nil {
			return err
		}
	}
	return nil
}
