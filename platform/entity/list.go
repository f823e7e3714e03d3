package entity

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"
	"gorm.io/gorm"

	"usersvc/platform/apperr"
	"usersvc/platform/db"
	"usersvc/platform/web"
)

// State selects entities by deletion state.
type State string

// The states a list can ask for.
const (
	Active      State = "active"
	DeletedOnly State = "deleted"
	All         State = "all"
)

// List is what every entity list takes: a page size, a cursor, a state and an order.
type List struct {
	Limit  int
	Cursor string
	State  State
	Sort   string
}

// ParseList reads limit (1–100, default 25), cursor, state (default active) and sort (one
// of sorts, the first by default) from the query, which may also hold the parameters named
// in extra; it returns the query for those.
func ParseList(c echo.Context, sorts []string, extra ...string) (List, url.Values, error) {
	q, err := web.Query(c, append([]string{"limit", "cursor", "state", "sort"}, extra...)...)
	if err != nil {
		return List{}, nil, err
	}
	l := List{Cursor: q.Get("cursor")}
	if l.Limit, err = web.IntParam(q, "limit", 25, 1, 100); err != nil {
		return List{}, nil, err
	}
	state, err := web.EnumParam(q, "state", string(Active), string(Active), string(DeletedOnly), string(All))
	if err != nil {
		return List{}, nil, err
	}
	if l.Sort, err = web.EnumParam(q, "sort", sorts[0], sorts...); err != nil {
		return List{}, nil, err
	}
	l.State = State(state)
	return l, q, nil
}

// Page runs a list: filter narrows the query, keysets are the orders by sort name, and scope
// names everything else that shapes the result (the filters' values), so a cursor cannot be
// replayed against another list, order or filter. ErrInvalid for an unknown sort or a bad
// cursor.
func (s *Store[T, PT, E]) Page(ctx context.Context, l List, keysets map[string]db.Keyset[T],
	scope []string, filter func(tx *gorm.DB) *gorm.DB) (db.Page[T], error) {
	ks, ok := keysets[l.Sort]
	if !ok {
		return db.Page[T]{}, apperr.Invalid("sort %q is not supported", l.Sort)
	}
	bound, err := json.Marshal(append([]string{s.kind.Module, l.Sort, string(l.State)}, scope...))
	if err != nil {
		return db.Page[T]{}, s.fail("list", err, "", "", uuid.Nil)
	}
	var page db.Page[T]
	err = s.db.Read(ctx, func(tx *gorm.DB) error {
		tx = tx.Model(new(T))
		switch l.State {
		case DeletedOnly:
			tx = tx.Scopes(db.OnlyDeleted)
		case All:
			tx = tx.Scopes(db.WithDeleted)
		}
		var err error
		page, err = ks.Find(filter(tx), s.cursors, string(bound), l.Cursor, l.Limit)
		return err
	})
	if errors.Is(err, db.ErrBadCursor) {
		return db.Page[T]{}, apperr.Invalid("cursor: %v", err)
	}
	return page, s.fail("list", err, "", "", uuid.Nil)
}

// CreatedKeysets are the orders by creation, oldest or newest first, that every entity with
// created_at and id columns (and a (created_at, id) index) can have.
func CreatedKeysets[T any](createdAt func(*T) time.Time, id func(*T) uuid.UUID) (asc, desc db.Keyset[T]) {
	asc = db.Keyset[T]{
		Columns: []string{"created_at", "id"},
		Values:  func(r *T) []any { return []any{createdAt(r), id(r)} },
		Targets: func() []any { return []any{new(time.Time), new(uuid.UUID)} },
	}
	desc = asc
	desc.Desc = true
	return asc, desc
}

// NameKeyset orders by lower(column), then id: for a text column compared byte-wise
// (COLLATE "C") with an index on (lower(column), id).
func NameKeyset[T any](column string, name func(*T) string, id func(*T) uuid.UUID) db.Keyset[T] {
	return db.Keyset[T]{
		Columns: []string{"lower(" + column + ")", "id"},
		Values:  func(r *T) []any { return []any{db.ASCIILower(name(r)), id(r)} },
		Targets: func() []any { return []any{new(string), new(uuid.UUID)} },
	}
}
