package entity

import (
	"database/sql/driver"
	"time"

	"github.com/google/uuid"

	"usersvc/platform/db"
)

// The actions an audit row records.
const (
	Created  = "created"
	Updated  = "updated"
	Deleted  = "deleted"
	Restored = "restored"
)

// Changes is what an audit row records: a created entity's fields, or each changed field's
// "from" and "to". Stored as jsonb.
type Changes map[string]any

// Value encodes c as JSON text for the jsonb column.
func (c Changes) Value() (driver.Value, error) {
	if c == nil {
		return "{}", nil
	}
	return db.JSONValue(map[string]any(c))
}

// Scan decodes the jsonb column.
func (c *Changes) Scan(src any) error { return db.ScanJSON(src, (*map[string]any)(c)) }

// Field is one field of a patch: its name, where the entity keeps it, and the value the
// patch gives it (nil: leave it as it is).
type Field struct {
	Name     string
	Dst, New *string
}

// Apply sets every field the patch gives a different value, and returns what changed as
// {"field": {"from": …, "to": …}}.
func Apply(fields ...Field) Changes {
	c := Changes{}
	for _, f := range fields {
		if f.New != nil && *f.New != *f.Dst {
			c[f.Name] = map[string]string{"from": *f.Dst, "to": *f.New}
			*f.Dst = *f.New
		}
	}
	return c
}

// Entry is an audit row as the API shows it. Actor is who made the change: the name of the
// API token (never its secret), "anonymous" with authentication off, "system" for changes
// no request made, "unknown" for rows written before actors were recorded.
type Entry struct {
	ID      int64     `json:"id"`
	Action  string    `json:"action"`
	Actor   string    `json:"actor"`
	Changes Changes   `json:"changes"`
	At      time.Time `json:"at"`
}

// Audit is an audit table's model: one row per change of an entity, written in the
// change's transaction.
type Audit interface {
	Entry() Entry
}

// Row is what the operations need of an entity's model (pointer receivers).
type Row interface {
	EntityID() uuid.UUID
	EntityVersion() int
	// ChangedAt is when the entity last changed (updated_at).
	ChangedAt() time.Time
	// Touch records a change at at: version + 1, updated_at = at.
	Touch(at time.Time)
}
