// Package users is the users feature: accounts with soft delete, optimistic locking and an
// audit trail, served under /api/v1/users. Module is all app/ needs to know of it.
package users

import (
	"context"

	"github.com/go-gormigrate/gormigrate/v2"
	"github.com/labstack/echo/v4"
	"gorm.io/gorm"

	migs "usersvc/migrations/users"
	"usersvc/platform/db"
)

// Runner is the database access the module needs; platform/db.Runner provides it, possibly
// wrapped by resilience layers.
type Runner interface {
	Transact(ctx context.Context, fn func(tx *gorm.DB) error) error
	Read(ctx context.Context, fn func(tx *gorm.DB) error) error
}

// Module registers the users feature into the app.
type Module struct {
	repo Repository
}

// New returns the users module over r, signing page cursors with cursors.
func New(r Runner, cursors *db.Cursors) *Module {
	return &Module{repo: newStore(r, cursors)}
}

// Name identifies the module in logs.
func (*Module) Name() string { return "users" }

// Models are the GORM models the module's migrations must match (the schema drift test).
func (*Module) Models() []any { return []any{&User{}, &Event{}} }

// Migrations are the module's schema changes, in order.
func (*Module) Migrations() []*gormigrate.Migration { return migs.All() }

// Routes registers the module's endpoints on api (/api/v1, authenticated).
func (m *Module) Routes(api *echo.Group) {
	h := &handlers{repo: m.repo}
	g := api.Group("/users")
	g.POST("", h.register)
	g.GET("", h.list)
	g.POST("/batch", h.registerBatch)
	g.GET("/stats", h.stats)
	g.GET("/:id", h.get)
	g.PATCH("/:id", h.update)
	g.DELETE("/:id", h.delete)
	g.POST("/:id/restore", h.restore)
	g.GET("/:id/events", h.events)
}
