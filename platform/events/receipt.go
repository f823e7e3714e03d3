package events

import (
	"time"

	"github.com/go-gormigrate/gormigrate/v2"
	"github.com/google/uuid"

	migs "usersvc/migrations/events"
)

// Receipt is the event_receipts table: a subscriber has handled an event. The tags describe
// the schema the migrations build, for the schema drift test.
type Receipt struct {
	Subscriber string    `gorm:"type:text;primaryKey"`
	EventID    uuid.UUID `gorm:"type:uuid;primaryKey"`
	HandledAt  time.Time `gorm:"type:timestamptz;not null;index:event_receipts_handled_at_idx"`
}

// TableName pins the table name the migrations created.
func (Receipt) TableName() string { return "event_receipts" }

// Migrations are the event store's schema changes: River's tables and the receipts.
func Migrations() []*gormigrate.Migration { return migs.All() }

// Models are the event store's GORM models (River's own tables are River's, not modelled).
func Models() []any { return []any{&Receipt{}} }
