// Package idempotency makes retried writes safe: a request carrying an Idempotency-Key runs
// once, in a transaction that also stores its response under the key, and a retry with the
// same key and request gets that response again instead of a second write.
package idempotency

import (
	"database/sql/driver"
	"time"

	"usersvc/platform/db"
)

// Record is a stored key and the response of the request that used it (idempotency_keys).
// The tags describe what the migration builds, for the schema drift test.
type Record struct {
	Owner       string    `gorm:"type:text;primaryKey"`
	Key         string    `gorm:"type:text;primaryKey"`
	RequestHash []byte    `gorm:"type:bytea;not null"`
	Status      int       `gorm:"type:integer;not null"`
	Headers     Headers   `gorm:"type:jsonb;not null;default:'{}'"`
	Body        []byte    `gorm:"type:bytea;not null"`
	CreatedAt   time.Time `gorm:"type:timestamptz;not null"`
	ExpiresAt   time.Time `gorm:"type:timestamptz;not null;index:idempotency_keys_expires_at_idx"`
}

// TableName pins the table the migration created.
func (Record) TableName() string { return "idempotency_keys" }

// Headers are the response headers a replay repeats.
type Headers map[string]string

// Value encodes h as JSON text for the jsonb column.
func (h Headers) Value() (driver.Value, error) { return db.JSONValue(map[string]string(h)) }

// Scan decodes the jsonb column.
func (h *Headers) Scan(src any) error { return db.ScanJSON(src, (*map[string]string)(h)) }
