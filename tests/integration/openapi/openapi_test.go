// Package openapi_test proves the OpenAPI document end to end: the app serves it without a
// token, it is the document every test server validates its answers against, and a route or
// an answer it does not document fails the tests.
package openapi_test

import (
	_ "embed"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/go-gormigrate/gormigrate/v2"
	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"usersvc/app"
	"usersvc/platform/module"
	"usersvc/tests/apitest"
	"usersvc/tests/testapp"
)

// The document is public (no token), the same one the app validates against, loadable and
// valid for a client; HEAD answers like GET; an unknown query parameter is a 400 like anywhere.
func TestOpenAPIDocumentIsServedWithoutAToken(t *testing.T) {
	srv, err := testapp.Start("openapi_served", testapp.Options{NoEvents: true})
	require.NoError(t, err)
	defer func() { require.NoError(t, srv.Close()) }()

	resp := srv.Do(t, http.MethodGet, "/api/v1/openapi.json", nil, "Authorization", "")
	require.Equal(t, http.StatusOK, resp.Status, "%s", resp.Body)
	assert.Equal(t, "application/json", resp.Header.Get("Content-Type"))
	doc, err := srv.App.OpenAPI()
	require.NoError(t, err)
	want, err := doc.MarshalJSON()
	require.NoError(t, err)
	assert.JSONEq(t, string(want), string(resp.Body), "the served document is the app's")
	_, err = testapp.LoadValidator(resp.Body)
	require.NoError(t, err, "a client can load and validate the served document")
	for _, path := range []string{"/api/v1/users/{id}", "/api/v1/teams/{id}/members/{user_id}", "/healthz"} {
		assert.Contains(t, string(resp.Body), `"`+path+`"`)
	}

	head := srv.Do(t, http.MethodHead, "/api/v1/openapi.json", nil, "Authorization", "")
	assert.Equal(t, http.StatusOK, head.Status)
	assert.Empty(t, head.Body)
	apitest.RequireProblem(t, srv.Do(t, http.MethodGet, "/api/v1/openapi.json?v=2", nil), http.StatusBadRequest, `unknown query parameter "v"`)
}

// probes is a module for these tests: GET /probes answers what its handler is told to, and
// its fragment documents what fragment says.
type probes struct {
	fragment []byte
	status   int
	body     string
}

func (*probes) Name() string                        { return "probes" }
func (*probes) Models() []any                       { return nil }
func (*probes) Migrations() []*gormigrate.Migration { return nil }
func (*probes) Manifest() module.Manifest           { return module.Manifest{} }
func (p *probes) OpenAPI() []byte                   { return p.fragment }
func (p *probes) Routes(api *echo.Group)            { api.GET("/probes", p.serve) }
func (p *probes) serve(c echo.Context) error        { return c.JSONBlob(p.status, []byte(p.body)) }
func (p *probes) modules(app.Deps) []app.Module     { return []app.Module{p} }
func (p *probes) options() testapp.Options {
	return testapp.Options{NoEvents: true, Modules: p.modules}
}
func (p *probes) answer(status int, body string) { p.status, p.body = status, body }

//go:embed testdata/probes.yaml
var probesFragment []byte

// A route the document does not list fails the start of every test server, so a module that
// serves a route it forgot to document fails its whole suite.
func TestAnUndocumentedRouteFailsTheSuite(t *testing.T) {
	_, err := testapp.Start("openapi_undocumented", (&probes{}).options()) // serves GET /probes, documents nothing
	require.Error(t, err)
	assert.Contains(t, err.Error(), "GET /api/v1/probes is served but not documented")
}

// An answer the document does not allow — off its schema, or a status it does not list —
// fails the test that received it (through Do, Request or Client) and the server's Close.
func TestAnUndocumentedAnswerFailsTheTest(t *testing.T) {
	p := &probes{fragment: probesFragment}
	srv, err := testapp.Start("openapi_answers", p.options())
	require.NoError(t, err)

	p.answer(http.StatusOK, `{"ok":true}`)
	require.Equal(t, http.StatusOK, srv.Do(t, http.MethodGet, "/api/v1/probes", nil).Status, "documented: passes")

	p.answer(http.StatusOK, `{"ok":"yes"}`)
	rec := &recorder{T: t}
	resp := srv.Do(rec, http.MethodGet, "/api/v1/probes", nil)
	assert.Equal(t, http.StatusOK, resp.Status, "the answer still reaches the test")
	require.Len(t, rec.errors, 1, "Do fails the test")
	assert.Contains(t, rec.errors[0], "GET /api/v1/probes answered 200, which the document does not allow")
	assert.Contains(t, rec.errors[0], "/ok")

	p.answer(http.StatusTeapot, `{"ok":true}`)
	resp, err = srv.Request(t.Context(), http.MethodGet, "/api/v1/probes", nil)
	require.Error(t, err, "Request returns an error with the answer")
	assert.Equal(t, http.StatusTeapot, resp.Status)
	assert.Contains(t, err.Error(), "status 418 is not documented")

	rec = &recorder{T: t}
	req, err := http.NewRequest(http.MethodGet, srv.URL+"/api/v1/probes", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+testapp.Token)
	raw, err := srv.Client(rec).Do(req)
	require.NoError(t, err)
	assert.Equal(t, http.StatusTeapot, raw.StatusCode)
	raw.Body.Close()
	require.Len(t, rec.errors, 1, "a test's own client fails the test too")

	err = srv.Close()
	require.Error(t, err, "Close lists every answer the document did not allow")
	assert.Contains(t, err.Error(), "3 answers the OpenAPI document does not allow")
}

// recorder is a testing.TB that keeps the errors reported to it instead of failing.
type recorder struct {
	*testing.T
	mu     sync.Mutex
	errors []string
}

func (r *recorder) Error(args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errors = append(r.errors, strings.TrimSpace(fmt.Sprintln(args...)))
}
