package teams

import (
	"github.com/go-gormigrate/gormigrate/v2"
	"gorm.io/gorm"
)

// addTeamEventActor is frozen SQL: never edit it once committed; add a new migration instead.
//
// actor is who made the change: the name of the API token. Rows written before it are
// 'unknown' (adding a column with a constant default rewrites nothing); the default is then
// dropped, so a new row must name its actor, and the check (validated apart, without
// blocking writes while it reads the table) refuses an empty one.
func addTeamEventActor() *gormigrate.Migration {
	return &gormigrate.Migration{
		ID: "202611281203_add_team_event_actor",
		Migrate: func(tx *gorm.DB) error {
			return exec(tx,
				`ALTER TABLE team_events ADD COLUMN actor text NOT NULL DEFAULT 'unknown'`,
				`ALTER TABLE team_events ALTER COLUMN actor DROP DEFAULT`,
				`ALTER TABLE team_events ADD CONSTRAINT team_events_actor_check CHECK (actor <> '') NOT VALID`,
				`ALTER TABLE team_events VALIDATE CONSTRAINT team_events_actor_check`,
			)
		},
		Rollback: func(tx *gorm.DB) error {
			return exec(tx, `ALTER TABLE team_events DROP COLUMN actor`)
		},
	}
}
