package users

import (
	"github.com/go-gormigrate/gormigrate/v2"
	"gorm.io/gorm"
)

// addUserGeneration is frozen SQL: never edit it once committed; add a new migration instead.
//
// generation counts a user's lives: it grows at each restore, so what another module ties to
// a user (a team membership) can be tied to one life and stay ended when the user comes back.
// user_directory is the users module's published view (userapi.View): the live users, which
// other modules may join in their SQL; the users table itself stays private to the module.
func addUserGeneration() *gormigrate.Migration {
	return &gormigrate.Migration{
		ID: "202611280001_add_user_generation",
		Migrate: func(tx *gorm.DB) error {
			return exec(tx,
				`ALTER TABLE users ADD COLUMN generation integer NOT NULL DEFAULT 1`,
				`CREATE VIEW user_directory AS
					SELECT id, generation FROM users WHERE deleted_at IS NULL`,
			)
		},
		Rollback: func(tx *gorm.DB) error {
			return exec(tx,
				`DROP VIEW user_directory`,
				`ALTER TABLE users DROP COLUMN generation`,
			)
		},
	}
}
