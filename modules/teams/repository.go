package teams

import (
	"github.com/google/uuid"

	"usersvc/platform/entity"
)

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
