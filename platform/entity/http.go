package entity

import (
	"context"
	"net/http"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"usersvc/platform/db"
	"usersvc/platform/web"
)

// EventsHandler serves GET …/:id/events: the audit trail in keyset pages.
func EventsHandler[E Audit](events func(ctx context.Context, id uuid.UUID, cursor string, limit int) (db.Page[E], error)) echo.HandlerFunc {
	return ChildrenHandler(events, func(e *E) Entry { return (*e).Entry() })
}

// ChildrenHandler serves GET …/:id/<children>: a keyset page (limit 1–100, default 25;
// cursor) of what belongs to the entity id, each item rendered by conv.
func ChildrenHandler[T, J any](page func(ctx context.Context, id uuid.UUID, cursor string, limit int) (db.Page[T], error),
	conv func(*T) J) echo.HandlerFunc {
	return func(c echo.Context) error {
		id, err := web.PathUUID(c, "id")
		if err != nil {
			return err
		}
		q, err := web.Query(c, "limit", "cursor")
		if err != nil {
			return err
		}
		limit, err := web.IntParam(q, "limit", 25, 1, 100)
		if err != nil {
			return err
		}
		p, err := page(c.Request().Context(), id, q.Get("cursor"), limit)
		if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, web.NewPage(p.Items, p.Next, conv))
	}
}
