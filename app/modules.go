package app

import (
	"github.com/go-gormigrate/gormigrate/v2"
	"github.com/labstack/echo/v4"

	"usersvc/modules/users"
	"usersvc/platform/db"
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
}

// Modules is the one list of the app's features: add a module with one line here.
func Modules(d Deps) []Module {
	return []Module{
		users.New(d.DB, d.Cursors),
	}
}
