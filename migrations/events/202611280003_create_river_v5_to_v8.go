package events

import (
	"github.com/go-gormigrate/gormigrate/v2"
	"gorm.io/gorm"
)

// createRiverV5ToV8 is frozen: River's versions 5–8, then the record of versions 1–8 in
// river_migration, which River's SQL leaves to its own migrator: so rivermigrate sees the
// schema as it is, should it ever take over.
func createRiverV5ToV8() *gormigrate.Migration {
	return &gormigrate.Migration{
		ID: "202611280003_create_river_v5_to_v8",
		Migrate: func(tx *gorm.DB) error {
			if err := riverStep(tx, 5, 8, "up"); err != nil {
				return err
			}
			return exec(tx, `INSERT INTO river_migration (line, version) SELECT 'main', generate_series(1, 8)`)
		},
		Rollback: func(tx *gorm.DB) error {
			if err := exec(tx, `DELETE FROM river_migration WHERE line = 'main'`); err != nil {
				return err
			}
			return riverStep(tx, 5, 8, "down")
		},
	}
}
