package entity

import (
	"context"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"usersvc/platform/db"
	"usersvc/platform/web"
)

// EventsHandler serves GET …/:id/events: the audit trail in keyset pages (limit 1–100,
// default 25; cursor).
func EventsHandler[E Audit](events func(ctx context.Context, id uuid.UUID, cursor string, limit int) (db.Page[E], error)) echo.HandlerFunc {
	return web.Children(Pages(events), func(e *E) Entry { return (*e).Entry() })
}

// Pages adapts a function returning a db.Page to web.Children.
func Pages[T any](f func(ctx context.Context, id uuid.UUID, cursor string, limit int) (db.Page[T], error)) func(
	ctx context.Context, id uuid.UUID, cursor string, limit int) ([]T, string, error) {
	return func(ctx context.Context, id uuid.UUID, cursor string, limit int) ([]T, string, error) {
		p, err := f(ctx, id, cursor, limit)
		return p.Items, p.Next, err
	}
}
