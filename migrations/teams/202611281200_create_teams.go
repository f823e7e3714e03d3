package teams

import (
	"github.com/go-gormigrate/gormigrate/v2"
	"gorm.io/gorm"
)

// createTeams is frozen SQL: never edit it once committed; add a new migration instead.
// Names compare byte-wise (COLLATE "C") after lower(), like usernames: unique among live
// teams, prefix search an index range.
func createTeams() *gormigrate.Migration {
	return &gormigrate.Migration{
		ID: "202611281200_create_teams",
		Migrate: func(tx *gorm.DB) error {
			return exec(tx,
				`CREATE TABLE teams (
					id          uuid PRIMARY KEY,
					name        text COLLATE "C" NOT NULL,
					description text NOT NULL DEFAULT '',
					version     integer NOT NULL DEFAULT 1,
					created_at  timestamptz NOT NULL,
					updated_at  timestamptz NOT NULL,
					deleted_at  timestamptz
				)`,
				`CREATE UNIQUE INDEX teams_name_lower_key ON teams (lower(name)) WHERE deleted_at IS NULL`,
				`CREATE INDEX teams_name_lower_id_idx ON teams (lower(name), id)`,
				`CREATE INDEX teams_created_at_id_idx ON teams (created_at, id)`,
			)
		},
		Rollback: func(tx *gorm.DB) error {
			return exec(tx, `DROP TABLE teams`)
		},
	}
}
