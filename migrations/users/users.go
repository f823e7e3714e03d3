// Package users holds the users module's migrations, one file each. Migrations never import
// the module's models: each freezes the SQL of its day, so it keeps meaning what it meant.
package users

import (
	"fmt"

	"github.com/go-gormigrate/gormigrate/v2"
	"gorm.io/gorm"
)

// All is the users module's migrations in order. Add new ones at the bottom.
func All() []*gormigrate.Migration {
	return []*gormigrate.Migration{
		createUsers(),
		createUserEvents(),
	}
}

// exec runs statements one by one and stops at the first error, returning it unflattened.
func exec(tx *gorm.DB, statements ...string) error {
	for _, s := range statements {
		if err := tx.Exec(s).Error; err != nil {
			return fmt.Errorf("%.60s…: %w", s, err)
		}
	}
	return nil
}
