package entity

import (
	"context"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"
)

// Kind describes one kind of entity to a Store.
type Kind[T any, E Audit] struct {
	Module string // "users": the prefix of wrapped errors
	Name   string // "user": the entity in client-facing messages
	// Unique maps each unique index to the field it keeps unique, so that a violation is
	// a 409 naming the field.
	Unique map[string]string
	// AuditOwner is the audit table's column holding the entity's id ("user_id").
	AuditOwner string
	// Audit builds the audit row of a change made by actor (the name of the token that made
	// it; package actor).
	Audit func(id uuid.UUID, action string, c Changes, at time.Time, actor string) E
	// RestoreAlso are columns a restore sets besides deleted_at, updated_at and version.
	RestoreAlso map[string]any
	// OnChange, when set, runs in the transaction of every change, after its audit row:
	// where a module publishes its domain events. row is the entity as it now is (for a
	// delete, as it was, with the new version).
	OnChange func(ctx context.Context, tx *gorm.DB, action string, row *T) error
}
