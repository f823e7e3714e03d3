package migrations

import (
	"fmt"

	"gorm.io/gorm"
)

// Exec runs a migration's statements one by one and stops at the first error, naming the
// statement, with the driver's error unflattened (GORM would join a second error as text).
func Exec(tx *gorm.DB, statements ...string) error {
	for _, s := range statements {
		if err := tx.Exec(s).Error; err != nil {
			return fmt.Errorf("%.60s…: %w", s, err)
		}
	}
	return nil
}
