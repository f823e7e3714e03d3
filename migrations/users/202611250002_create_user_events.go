package users

import (
	"github.com/go-gormigrate/gormigrate/v2"
	"gorm.io/gorm"
)

// createUserEvents is frozen SQL: never edit it once committed; add a new migration instead.
// Events are the audit trail of users; they are written in the transaction of the change.
func createUserEvents() *gormigrate.Migration {
	return &gormigrate.Migration{
		ID: "202611250002_create_user_events",
		Migrate: func(tx *gorm.DB) error {
			return exec(tx,
				`CREATE TABLE user_events (
					id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
					user_id uuid NOT NULL REFERENCES users (id),
					action  text NOT NULL
						CONSTRAINT user_events_action_check
						CHECK (action IN ('created', 'updated', 'deleted', 'restored')),
					changes jsonb NOT NULL DEFAULT '{}',
					at      timestamptz NOT NULL
				)`,
				// A user's events newest first (by id: commit order of the user's changes), in
				// keyset pages.
				`CREATE INDEX user_events_user_id_id_idx ON user_events (user_id, id DESC)`,
			)
		},
		Rollback: func(tx *gorm.DB) error {
			return exec(tx, `DROP TABLE user_events`)
		},
	}
}
