package users

import (
	"context"

	"github.com/google/uuid"

	"usersvc/platform/db"
	"usersvc/platform/entity"
)

// Repository is what the users API needs from storage, in the module's own words. The GORM
// implementation (store.go) translates database errors into the apperr kinds named here;
// any method may also return apperr.ErrUnavailable when the database cannot answer.
type Repository interface {
	// Register stores a new user and its "created" event. ErrConflict, naming the field,
	// when a live user already has the username (case-insensitively) or the email (the same
	// address: its key, see email.go).
	Register(ctx context.Context, r Registration) (*User, error)
	// RegisterBatch stores every registration or none, in one transaction. ErrConflict names
	// the first conflicting item in request order as users[i], each field that collides, and
	// who holds it (an earlier users[j], or a stored user).
	RegisterBatch(ctx context.Context, rs []Registration) ([]User, error)
	// Get returns a user. ErrNotFound when there is none, or it is deleted and
	// includeDeleted is false.
	Get(ctx context.Context, id uuid.UUID, includeDeleted bool) (*User, error)
	// List returns one keyset page. ErrInvalid for a cursor that is altered or belongs to
	// another query. A prefix search (Q) in username order reads about a page, plus the
	// matching emails that do not start with their own username (see searchByName).
	List(ctx context.Context, q ListQuery) (db.Page[User], error)
	// Update changes a live user when its version equals ifVersion (0: any version).
	// ErrNotFound, ErrVersionMismatch, or ErrConflict naming the field.
	Update(ctx context.Context, id uuid.UUID, ifVersion int, p Patch) (*User, error)
	// Delete soft-deletes a live user. ErrNotFound when there is none or it is deleted already.
	Delete(ctx context.Context, id uuid.UUID) error
	// Restore brings a deleted user back. ErrNotFound when there is none or it is not
	// deleted; ErrConflict naming the field when a live user now holds its username or email.
	Restore(ctx context.Context, id uuid.UUID) (*User, error)
	// Events returns a page of a user's audit trail, newest first; deleted users keep theirs.
	// ErrNotFound when the user never existed; ErrInvalid for a bad cursor.
	Events(ctx context.Context, id uuid.UUID, cursor string, limit int) (db.Page[Event], error)
	// Stats counts live and deleted users and registrations per UTC day over the last days,
	// exactly, from counters the database keeps as users change (its cost does not grow with
	// the table).
	Stats(ctx context.Context, days int) (Stats, error)
}

// Registration is what a new user supplies.
type Registration struct {
	Username string `json:"username" validate:"required,min=3,max=32,username"`
	Email    string `json:"email" validate:"required,max=254,email"`
	FullName string `json:"full_name" validate:"max=200"`
}

// Patch holds the fields a PATCH sets; nil means "leave as is".
type Patch struct {
	Username *string `json:"username" validate:"omitnil,min=3,max=32,username"`
	Email    *string `json:"email" validate:"omitnil,max=254,email"`
	FullName *string `json:"full_name" validate:"omitnil,max=200"`
}

// State selects users by deletion state.
type State = entity.State

// The states a list can ask for.
const (
	StateActive  = entity.Active
	StateDeleted = entity.DeletedOnly
	StateAll     = entity.All
)

// Sort is a list order. Only these values exist: request text never reaches ORDER BY.
type Sort string

// The orders a list can ask for.
const (
	SortCreated     Sort = "created_at"
	SortCreatedDesc Sort = "-created_at"
	SortUsername    Sort = "username"
)

// ListQuery selects a page of users.
type ListQuery struct {
	Limit    int
	Cursor   string
	Q        string // case-insensitive prefix of username or email
	Username string // exact, case-insensitive
	Email    string // exact, case-insensitive
	State    State
	Sort     Sort
}

// Stats summarises the users table.
type Stats struct {
	Active        int64      `json:"active"`
	Deleted       int64      `json:"deleted"`
	CreatedPerDay []DayCount `json:"created_per_day"`
}

// DayCount is the number of users registered on one UTC day.
type DayCount struct {
	Date  string `json:"date"` // YYYY-MM-DD
	Count int64  `json:"count"`
}
