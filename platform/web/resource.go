package web

import (
	"context"
	"net/http"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"usersvc/platform/apperr"
)

// PathUUID reads the path parameter name as a UUID (ParseUUID).
func PathUUID(c echo.Context, name string) (uuid.UUID, error) {
	return ParseUUID(name, c.Param(name))
}

// ParseUUID reads s, the value of parameter name, as a UUID in its canonical form only
// (36 characters, lowercase, hyphenated: the form the API writes): a 400 naming it
// otherwise. uuid.Parse also takes {…}, urn:uuid:…, 32 hex digits and upper case, which
// would give one resource many URLs, caches and ETags.
func ParseUUID(name, s string) (uuid.UUID, error) {
	id, err := uuid.Parse(s)
	if err != nil || id.String() != s {
		return uuid.Nil, apperr.Invalid("%s %q is not a UUID in canonical form (lowercase, hyphenated, e.g. %s)",
			name, s, "0192d3c4-5e6f-7a8b-9c0d-1e2f3a4b5c6d")
	}
	return id, nil
}

// Page is a list response; next_cursor is null on the last page.
type Page[J any] struct {
	Items      []J     `json:"items"`
	NextCursor *string `json:"next_cursor"`
}

// NewPage renders items with conv; next is "" on the last page.
func NewPage[T, J any](items []T, next string, conv func(*T) J) Page[J] {
	p := Page[J]{Items: make([]J, len(items))}
	for i := range items {
		p.Items[i] = conv(&items[i])
	}
	if next != "" {
		p.NextCursor = &next
	}
	return p
}

// Resource renders one kind of versioned resource: its version is its ETag.
type Resource[R any] struct {
	Version func(R) int
	JSON    func(R) any
}

// Write answers with r as JSON and its ETag.
func (res Resource[R]) Write(c echo.Context, status int, r R) error {
	c.Response().Header().Set("ETag", ETag(res.Version(r)))
	return c.JSON(status, res.JSON(r))
}

// Get serves GET …/:id (query: include_deleted), with If-None-Match answered 304.
func (res Resource[R]) Get(get func(ctx context.Context, id uuid.UUID, includeDeleted bool) (R, error)) echo.HandlerFunc {
	return func(c echo.Context) error {
		id, err := PathUUID(c, "id")
		if err != nil {
			return err
		}
		q, err := Query(c, "include_deleted")
		if err != nil {
			return err
		}
		includeDeleted, err := BoolParam(q, "include_deleted")
		if err != nil {
			return err
		}
		r, err := get(c.Request().Context(), id, includeDeleted)
		if err != nil {
			return err
		}
		if NoneMatch(c.Request().Header.Get("If-None-Match"), res.Version(r)) {
			c.Response().Header().Set("ETag", ETag(res.Version(r)))
			return c.NoContent(http.StatusNotModified)
		}
		return res.Write(c, http.StatusOK, r)
	}
}

// Restore serves POST …/:id/restore.
func (res Resource[R]) Restore(restore func(ctx context.Context, id uuid.UUID) (R, error)) echo.HandlerFunc {
	return func(c echo.Context) error {
		id, err := pathOnly(c)
		if err != nil {
			return err
		}
		r, err := restore(c.Request().Context(), id)
		if err != nil {
			return err
		}
		return res.Write(c, http.StatusOK, r)
	}
}

// Delete serves DELETE …/:id: 204.
func Delete(del func(ctx context.Context, id uuid.UUID) error) echo.HandlerFunc {
	return func(c echo.Context) error {
		id, err := pathOnly(c)
		if err != nil {
			return err
		}
		if err := del(c.Request().Context(), id); err != nil {
			return err
		}
		return c.NoContent(http.StatusNoContent)
	}
}

// DeleteChild serves DELETE …/:id/<children>/:<param>: 204.
func DeleteChild(param string, del func(ctx context.Context, id, child uuid.UUID) error) echo.HandlerFunc {
	return func(c echo.Context) error {
		id, err := pathOnly(c)
		if err != nil {
			return err
		}
		child, err := PathUUID(c, param)
		if err != nil {
			return err
		}
		if err := del(c.Request().Context(), id, child); err != nil {
			return err
		}
		return c.NoContent(http.StatusNoContent)
	}
}

// pathOnly reads the :id of a route that takes no query parameters.
func pathOnly(c echo.Context) (uuid.UUID, error) {
	id, err := PathUUID(c, "id")
	if err != nil {
		return uuid.Nil, err
	}
	_, err = Query(c)
	return id, err
}

// Create serves POST on a collection: the body decoded into an I and checked (check returns
// ErrInvalid naming the field), create stores it; 201 with Location (the collection's path
// and the new id) and the ETag.
func Create[R, I any](res Resource[R], check func(*I) error, id func(R) uuid.UUID,
	create func(ctx context.Context, in I) (R, error)) echo.HandlerFunc {
	return func(c echo.Context) error {
		var in I
		if err := DecodeBody(c, &in); err != nil {
			return err
		}
		if err := check(&in); err != nil {
			return err
		}
		r, err := create(c.Request().Context(), in)
		if err != nil {
			return err
		}
		c.Response().Header().Set(echo.HeaderLocation, c.Request().URL.Path+"/"+id(r).String())
		return res.Write(c, http.StatusCreated, r)
	}
}

// Update serves PATCH …/:id: the body decoded into a P and checked, applied when the
// resource is at the version If-Match names (if any).
func Update[R, P any](res Resource[R], check func(*P) error,
	update func(ctx context.Context, id uuid.UUID, ifVersion int, p P) (R, error)) echo.HandlerFunc {
	return func(c echo.Context) error {
		id, err := PathUUID(c, "id")
		if err != nil {
			return err
		}
		var p P
		if err := DecodeBody(c, &p); err != nil {
			return err
		}
		if err := check(&p); err != nil {
			return err
		}
		ifVersion, err := IfMatch(c.Request().Header.Get("If-Match"))
		if err != nil {
			return err
		}
		r, err := update(c.Request().Context(), id, ifVersion, p)
		if err != nil {
			return err
		}
		return res.Write(c, http.StatusOK, r)
	}
}
