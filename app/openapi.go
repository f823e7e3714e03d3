package app

import (
	"net/http"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/labstack/echo/v4"

	"usersvc/platform/apidoc"
	"usersvc/platform/web"
)

// OpenAPI is the app's API document: the platform's part and every module's, merged and
// validated by apidoc.Build, as this configuration serves it (/metrics only when it is on the
// API listener).
func (a *App) OpenAPI() (*openapi3.T, error) { return OpenAPI(a.modules, a.cfg) }

// OpenAPI is the API document an app with mods and cfg serves.
func OpenAPI(mods []Module, cfg Config) (*openapi3.T, error) {
	opts := apidoc.Options{Prefix: "/api/v1"}
	if cfg.Metrics.Addr != "" {
		opts.Omit = []string{"/metrics"}
	}
	parts := make([]apidoc.Part, 0, len(mods))
	for _, m := range mods {
		parts = append(parts, apidoc.Part{Module: m.Name(), Fragment: m.OpenAPI()})
	}
	return apidoc.Build(opts, parts...)
}

// CheckOpenAPI fails unless doc documents every route the app serves, and serves every
// operation doc documents (tests call it on every test server).
func (a *App) CheckOpenAPI(doc *openapi3.T) error {
	var routes []apidoc.Route
	for _, r := range a.echo.Routes() {
		routes = append(routes, apidoc.Route{Method: r.Method, Path: r.Path})
	}
	return apidoc.CheckRoutes(doc, routes)
}

// serveOpenAPI serves the document wire built at GET and HEAD /api/v1/openapi.json (no
// token: the auth middleware lets this path through).
func (a *App) serveOpenAPI(e *echo.Echo) {
	body := a.apiDoc
	e.Match([]string{http.MethodGet, http.MethodHead}, apidoc.Path, func(c echo.Context) error {
		if _, err := web.Query(c); err != nil {
			return err
		}
		return c.JSONBlob(http.StatusOK, body)
	})
}
