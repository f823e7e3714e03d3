// Package module is the shape of a feature module: what app/ needs to register one, and the
// manifest that declares what it shares with the others. The module map (docs/modules.md) is
// drawn from the manifests, and the architecture test holds the code to them.
package module

import (
	"fmt"
	"sync"

	"github.com/go-gormigrate/gormigrate/v2"
	"github.com/labstack/echo/v4"
	"gorm.io/gorm/schema"

	"usersvc/platform/events"
)

// Module is what a feature package gives the app.
type Module interface {
	// Name is the module's name: its package under modules/, its tag on every statement.
	Name() string
	// Models are the GORM models of the tables the module owns, checked against the
	// migrated schema by the drift test. No other module's SQL may name these tables.
	Models() []any
	// Migrations are the module's schema changes, in order.
	Migrations() []*gormigrate.Migration
	// Routes registers the module's endpoints under /api/v1, behind authentication.
	Routes(api *echo.Group)
	// OpenAPI is the module's part of the API document: a YAML fragment (by convention its
	// embedded openapi.yaml) with the paths of its routes, relative to /api/v1, and the
	// schemas they use; nil when it serves none. platform/apidoc merges it with the others.
	OpenAPI() []byte
	// Manifest declares what the module shares with the others.
	Manifest() Manifest
}

// Manifest is what a module declares beyond its routes and tables.
type Manifest struct {
	// Contract is the import path of the package the module publishes for others (its types,
	// interfaces, event names and views: modules/<name>/<name>api by convention); "" when it
	// publishes none.
	Contract string
	// Uses are the modules whose published contract (modules/<name>/<name>api) this one
	// imports; it may import no other module's package.
	Uses []string
	// Views are the views of its own that it publishes in its contract: other modules that
	// use it may name them in their SQL.
	Views []string
	// Publishes are the types of the events it publishes.
	Publishes []string
	// Handles are its subscriptions to other modules' events.
	Handles []events.Subscription
}

// Tables lists the tables of m's models, as GORM names them.
func Tables(m Module) ([]string, error) {
	var out []string
	cache := &sync.Map{}
	for _, model := range m.Models() {
		s, err := schema.Parse(model, cache, schema.NamingStrategy{})
		if err != nil {
			return nil, fmt.Errorf("module: %s: %T: %w", m.Name(), model, err)
		}
		out = append(out, s.Table)
	}
	return out, nil
}
