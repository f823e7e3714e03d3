package teams

import (
	"context"

	"github.com/google/uuid"

	"usersvc/platform/db"
	"usersvc/platform/entity"
)

// Repository is what the teams API needs from storage. Methods return apperr kinds: a team
// or user that is unknown or deleted is ErrNotFound naming it; any method may also return
// ErrUnavailable when the database cannot answer.
type Repository interface {
	// Create stores a new team and its "created" event. ErrConflict when a live team has
	// the name (case-insensitively).
	Create(ctx context.Context, in Input) (*Team, error)
	Get(ctx context.Context, id uuid.UUID, includeDeleted bool) (*Team, error)
	// List returns one keyset page; ErrNotFound when ListQuery.Member is no live user.
	List(ctx context.Context, q ListQuery) (db.Page[Team], error)
	// Update changes a live team at version ifVersion (0: any). ErrVersionMismatch,
	// ErrConflict.
	Update(ctx context.Context, id uuid.UUID, ifVersion int, p Patch) (*Team, error)
	Delete(ctx context.Context, id uuid.UUID) error
	// Restore brings a deleted team back, with its memberships; ErrConflict when a live
	// team took its name.
	Restore(ctx context.Context, id uuid.UUID) (*Team, error)
	Events(ctx context.Context, id uuid.UUID, cursor string, limit int) (db.Page[Event], error)
	// AddMember makes a live user a member of a live team, with role ("" keeps an existing
	// member's role, or is "member"); added is false when the user was a member already.
	AddMember(ctx context.Context, team, user uuid.UUID, role string) (m *Member, added bool, err error)
	// RemoveMember ends a membership; ErrNotFound when the user is no member.
	RemoveMember(ctx context.Context, team, user uuid.UUID) error
	// Members returns a page of a live team's members, newest first.
	Members(ctx context.Context, team uuid.UUID, cursor string, limit int) (db.Page[Member], error)
}

// Input is what a new team supplies.
type Input struct {
	Name        string `json:"name"`
	Description string `json:"description"`
}

// Patch holds the fields a PATCH sets; nil means "leave as is".
type Patch struct {
	Name        *string `json:"name"`
	Description *string `json:"description"`
}

// The orders a list can ask for.
const (
	SortCreated     = "created_at"
	SortCreatedDesc = "-created_at"
	SortName        = "name"
)

// ListQuery selects a page of teams.
type ListQuery struct {
	entity.List
	Q      string    // case-insensitive prefix of the name
	Member uuid.UUID // only teams this user is a member of (uuid.Nil: any)
}
