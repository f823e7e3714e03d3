package app

import (
	"github.com/go-gormigrate/gormigrate/v2"
	"github.com/labstack/echo/v4"

	"usersvc/migrations"
	"usersvc/modules/users"
	"usersvc/platform/db"
	"usersvc/platform/idempotency"
)

// Module is what a feature package gives the app: its models (checked against the migrated
// schema by the drift test), the migrations it contributes and its routes.
type Module interface {
	Name() string
	Models() []any
	Migrations() []*gormigrate.Migration
	// Routes registers the module's endpoints under /api/v1, behind authentication.
	Routes(api *echo.Group)
}

// Deps is what modules may be built from.
type Deps struct {
	DB      *db.Runner
	Cursors *db.Cursors
	// Idempotent is route middleware honouring Idempotency-Key on a write route.
	Idempotent echo.MiddlewareFunc
}

// Modules is the one list of the app's features: add a module with one line here.
func Modules(d Deps) []Module {
	return []Module{
		users.New(users.Deps{DB: d.DB, Cursors: d.Cursors, Idempotent: d.Idempotent}),
	}
}

// Plan is the one ordered list of migrations: the platform's own tables, then every
// module's, merged by ID.
func Plan(mods []Module) ([]*gormigrate.Migration, error) {
	lists := [][]*gormigrate.Migration{idempotency.Migrations()}
	for _, m := range mods {
		lists = append(lists, m.Migrations())
	}
	return migrations.Plan(lists...)
}

// Models are the GORM models of every table the migrations create, for the schema drift
// test.
func Models(mods []Module) []any {
	models := idempotency.Models()
	for _, m := range mods {
		models = append(models, m.Models()...)
	}
	return models
}
