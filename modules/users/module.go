// Package users is the users feature: accounts with soft delete, optimistic locking and an
// audit trail, served under /api/v1/users. Module is all app/ needs to know of it.
package users

import (
	_ "embed"

	"github.com/go-gormigrate/gormigrate/v2"
	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	migs "usersvc/migrations/users"
	"usersvc/modules/users/userapi"
	"usersvc/platform/db"
	"usersvc/platform/entity"
	"usersvc/platform/events"
	"usersvc/platform/module"
	"usersvc/platform/web"
)

//go:embed openapi.yaml
var openAPI []byte

// Module registers the users feature into the app.
type Module struct {
	repo       Repository
	directory  directory
	idempotent echo.MiddlewareFunc
}

// Deps is what the module is built from.
type Deps struct {
	DB      db.Transactor
	Cursors *db.Cursors // signs page cursors
	// Idempotent makes a write route honour Idempotency-Key; nil leaves routes as they are.
	Idempotent echo.MiddlewareFunc
	// Events publishes the module's events (userapi.Created, …) in the change's
	// transaction; nil publishes nothing.
	Events events.Publisher
}

// New returns the users module.
func New(d Deps) *Module {
	return &Module{repo: newStore(d.DB, d.Cursors, d.Events), directory: directory{db: d.DB}, idempotent: web.Optional(d.Idempotent)}
}

// Directory is the module's published userapi.Directory, for app/ to give to the modules
// that use it.
func (m *Module) Directory() userapi.Directory { return m.directory }

// Manifest implements module.Module: the users module uses no other module, publishes the
// user_directory view and the user events.
func (*Module) Manifest() module.Manifest {
	return module.Manifest{
		Contract:  "usersvc/modules/users/userapi",
		Views:     []string{userapi.View},
		Publishes: []string{userapi.Created, userapi.Updated, userapi.Deleted, userapi.Restored},
	}
}

// Repository is the module's storage, with the resilience layers of the Runner it was built
// on; the performance suites measure it against a raw pgx implementation of the same calls.
func (m *Module) Repository() Repository { return m.repo }

// Name identifies the module in logs.
func (*Module) Name() string { return "users" }

// Models are the GORM models the module's migrations must match (the schema drift test).
func (*Module) Models() []any { return []any{&User{}, &Event{}, &userCount{}, &userDayCount{}} }

// Migrations are the module's schema changes, in order.
func (*Module) Migrations() []*gormigrate.Migration { return migs.All() }

// OpenAPI is the module's part of the API document: openapi.yaml, beside this file.
func (*Module) OpenAPI() []byte { return openAPI }

// Routes registers the module's endpoints on api (/api/v1, authenticated).
func (m *Module) Routes(api *echo.Group) {
	h := &handlers{repo: m.repo}
	g := api.Group("/users")
	g.POST("", web.Create(resource, func(r *Registration) error { return check(r, "") },
		func(u *User) uuid.UUID { return u.ID }, m.repo.Register), m.idempotent)
	g.GET("", h.list)
	g.POST("/batch", h.registerBatch, m.idempotent)
	g.GET("/stats", h.stats)
	g.GET("/:id", resource.Get(m.repo.Get))
	g.PATCH("/:id", web.Update(resource, checkPatch, m.repo.Update))
	g.DELETE("/:id", web.Delete(m.repo.Delete))
	g.POST("/:id/restore", resource.Restore(m.repo.Restore), m.idempotent)
	g.GET("/:id/events", entity.EventsHandler(m.repo.Events))
}
