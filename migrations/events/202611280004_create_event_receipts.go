package events

import (
	"github.com/go-gormigrate/gormigrate/v2"
	"gorm.io/gorm"
)

// createEventReceipts is frozen SQL: never edit it once committed; add a new migration instead.
// A receipt says a subscriber has handled an event. It is written in the handler's
// transaction, so a delivery that comes again (at least once) finds it and does nothing.
func createEventReceipts() *gormigrate.Migration {
	return &gormigrate.Migration{
		ID: "202611280004_create_event_receipts",
		Migrate: func(tx *gorm.DB) error {
			return exec(tx,
				`CREATE TABLE event_receipts (
					subscriber text NOT NULL,
					event_id   uuid NOT NULL,
					handled_at timestamptz NOT NULL,
					PRIMARY KEY (subscriber, event_id)
				)`,
				// The cleanup deletes receipts past their retention.
				`CREATE INDEX event_receipts_handled_at_idx ON event_receipts (handled_at)`,
			)
		},
		Rollback: func(tx *gorm.DB) error {
			return exec(tx, `DROP TABLE event_receipts`)
		},
	}
}
