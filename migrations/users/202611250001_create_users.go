package users

import (
	"github.com/go-gormigrate/gormigrate/v2"
	"gorm.io/gorm"
)

// createUsers is frozen SQL: never edit it once committed; add a new migration instead.
//
// username and email compare byte-wise (COLLATE "C") after lower(): identifiers want exact
// matching, and it makes prefix search an index range scan whatever the database's locale.
// Uniqueness only binds live rows, so a deleted user's name can be registered again.
func createUsers() *gormigrate.Migration {
	return &gormigrate.Migration{
		ID: "202611250001_create_users",
		Migrate: func(tx *gorm.DB) error {
			return exec(tx,
				`CREATE TABLE users (
					id         uuid PRIMARY KEY,
					username   text COLLATE "C" NOT NULL,
					email      text COLLATE "C" NOT NULL,
					full_name  text NOT NULL DEFAULT '',
					version    integer NOT NULL DEFAULT 1,
					created_at timestamptz NOT NULL,
					updated_at timestamptz NOT NULL,
					deleted_at timestamptz
				)`,
				// Live-row uniqueness, also used by exact lookups of live users.
				`CREATE UNIQUE INDEX users_username_lower_key ON users (lower(username)) WHERE deleted_at IS NULL`,
				`CREATE UNIQUE INDEX users_email_lower_key ON users (lower(email)) WHERE deleted_at IS NULL`,
				// Keyset order for sort=created_at / -created_at, and the stats per-day range.
				`CREATE INDEX users_created_at_id_idx ON users (created_at, id)`,
				// Keyset order for sort=username, and prefix search (q) on username.
				`CREATE INDEX users_username_lower_id_idx ON users (lower(username), id)`,
				// Prefix search (q) and exact lookup on email across all states.
				`CREATE INDEX users_email_lower_id_idx ON users (lower(email), id)`,
			)
		},
		Rollback: func(tx *gorm.DB) error {
			return exec(tx, `DROP TABLE users`)
		},
	}
}
