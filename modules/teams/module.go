// Package teams is the teams feature: teams with soft delete, optimistic locking and an
// audit trail, and their members (users, through the users module's contract), served under
// /api/v1/teams. Module is all app/ needs to know of it.
package teams

import (
	_ "embed"

	"github.com/go-gormigrate/gormigrate/v2"
	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	migs "usersvc/migrations/teams"
	"usersvc/modules/users/userapi"
	"usersvc/platform/db"
	"usersvc/platform/entity"
	"usersvc/platform/events"
	"usersvc/platform/module"
	"usersvc/platform/web"
)

//go:embed openapi.yaml
var openAPI []byte

// Module registers the teams feature into the app.
type Module struct {
	store      *store
	idempotent echo.MiddlewareFunc
}

// Deps is what the module is built from.
type Deps struct {
	DB         db.Transactor
	Cursors    *db.Cursors
	Idempotent echo.MiddlewareFunc // makes POST /teams honour Idempotency-Key
	Users      userapi.Directory
}

// New returns the teams module.
func New(d Deps) *Module {
	return &Module{store: newStore(d.DB, d.Cursors, d.Users), idempotent: d.Idempotent}
}

// Name identifies the module.
func (*Module) Name() string { return "teams" }

// Models are the tables the module owns.
func (*Module) Models() []any { return []any{&Team{}, &Event{}, &Member{}} }

// Migrations are the module's schema changes, in order.
func (*Module) Migrations() []*gormigrate.Migration { return migs.All() }

// Manifest: teams uses the users contract and removes a deleted user's memberships.
func (m *Module) Manifest() module.Manifest {
	return module.Manifest{
		Uses:    []string{"users"},
		Handles: []events.Subscription{{Subscriber: "teams", Type: userapi.Deleted, Handle: m.store.userDeleted}},
	}
}

// OpenAPI is the module's part of the API document: openapi.yaml, beside this file.
func (*Module) OpenAPI() []byte { return openAPI }

// Routes registers the module's endpoints on api (/api/v1, authenticated).
func (m *Module) Routes(api *echo.Group) {
	r := m.store
	g := api.Group("/teams")
	g.POST("", web.Create(resource, checkInput, func(t *Team) uuid.UUID { return t.ID }, r.Create), web.Optional(m.idempotent))
	g.GET("", list(r))
	g.GET("/:id", resource.Get(r.Get))
	g.PATCH("/:id", web.Update(resource, checkPatch, r.Update))
	g.DELETE("/:id", web.Delete(r.Delete))
	g.POST("/:id/restore", resource.Restore(r.Restore), web.Optional(m.idempotent))
	g.GET("/:id/events", entity.EventsHandler(r.Events))
	g.GET("/:id/members", entity.ChildrenHandler(r.Members, asJSON))
	g.PUT("/:id/members/:user_id", addMember(r))
	g.DELETE("/:id/members/:user_id", web.DeleteChild("user_id", r.RemoveMember))
}
