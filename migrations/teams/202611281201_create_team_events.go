package teams

import (
	"github.com/go-gormigrate/gormigrate/v2"
	"gorm.io/gorm"
)

// createTeamEvents is frozen SQL: never edit it once committed; add a new migration instead.
// A team's audit trail: its own changes and its members' arrivals and departures, written in
// the transaction of the change.
func createTeamEvents() *gormigrate.Migration {
	return &gormigrate.Migration{
		ID: "202611281201_create_team_events",
		Migrate: func(tx *gorm.DB) error {
			return exec(tx,
				`CREATE TABLE team_events (
					id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
					team_id uuid NOT NULL REFERENCES teams (id),
					action  text NOT NULL
						CONSTRAINT team_events_action_check CHECK (action IN ('created', 'updated', 'deleted',
							'restored', 'member_added', 'member_changed', 'member_removed')),
					changes jsonb NOT NULL DEFAULT '{}',
					at      timestamptz NOT NULL
				)`,
				`CREATE INDEX team_events_team_id_id_idx ON team_events (team_id, id DESC)`,
			)
		},
		Rollback: func(tx *gorm.DB) error {
			return exec(tx, `DROP TABLE team_events`)
		},
	}
}
