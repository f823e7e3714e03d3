package app

import (
	"github.com/go-gormigrate/gormigrate/v2"
	"github.com/labstack/echo/v4"

	"usersvc/migrations"
	"usersvc/modules/teams"
	"usersvc/modules/users"
	"usersvc/platform/db"
	"usersvc/platform/events"
	"usersvc/platform/idempotency"
	"usersvc/platform/module"
)

// Module is what a feature package gives the app (see platform/module).
type Module = module.Module

// Deps is what modules may be built from.
type Deps struct {
	DB      *db.Runner // each module gets DB.For(its name)
	Cursors *db.Cursors
	// Idempotent is route middleware honouring Idempotency-Key on a write route.
	Idempotent echo.MiddlewareFunc
	// Events publishes a module's events in the transaction of its change.
	Events events.Publisher
}

// ForModule is d's Runner tagged with a module's name (nil stays nil: the drift test and the
// module map build modules without a database).
func (d Deps) ForModule(name string) db.Transactor {
	if d.DB == nil {
		return nil
	}
	return d.DB.For(name)
}

// Modules is the one list of the app's features: add a module with one line here, after
// the modules whose contracts it uses.
func Modules(d Deps) []Module {
	u := users.New(users.Deps{DB: d.ForModule("users"), Cursors: d.Cursors, Idempotent: d.Idempotent, Events: d.Events})
	return []Module{
		u,
		teams.New(teams.Deps{DB: d.ForModule("teams"), Cursors: d.Cursors, Idempotent: d.Idempotent, Users: u.Directory()}),
		// `make module NAME=…` adds new modules above this line.
	}
}

// Plan is the one ordered list of migrations: the platform's own tables, then every
// module's, merged by ID.
func Plan(mods []Module) ([]*gormigrate.Migration, error) {
	lists := [][]*gormigrate.Migration{idempotency.Migrations(), events.Migrations()}
	for _, m := range mods {
		lists = append(lists, m.Migrations())
	}
	return migrations.Plan(lists...)
}

// Models are the GORM models of every table the migrations create (River's excepted: its
// schema is River's), for the schema drift test.
func Models(mods []Module) []any {
	models := append(idempotency.Models(), events.Models()...)
	for _, m := range mods {
		models = append(models, m.Models()...)
	}
	return models
}

// Subscriptions are every module's event handlers.
func Subscriptions(mods []Module) []events.Subscription {
	var subs []events.Subscription
	for _, m := range mods {
		subs = append(subs, m.Manifest().Handles...)
	}
	return subs
}
