package server_test

import (
	"net/http"
	"sync"
	"testing"

	"usersvc/app"
	"usersvc/tests/testapp"
)

// documents validates every answer of a server that serve started against the OpenAPI
// document that server serves: an answer it does not allow fails the test that started the
// server. The document is built from the server's configuration (app.OpenAPI) rather than
// fetched, so that fetching it cannot spend a rate-limit token of the tests that count them;
// tests/integration/openapi proves the served one is the same. Answers from other listeners
// (metrics.addr's) are not the API's and pass unchecked.
var documents = &validating{base: &http.Transport{DisableKeepAlives: true}, servers: map[string]served{}}

type validating struct {
	base    http.RoundTripper
	mu      sync.Mutex
	servers map[string]served // by host:port
}

type served struct {
	t *testing.T
	v *testapp.Validator
}

func (d *validating) RoundTrip(req *http.Request) (*http.Response, error) {
	d.mu.Lock()
	s, ok := d.servers[req.URL.Host]
	d.mu.Unlock()
	if !ok {
		return d.base.RoundTrip(req)
	}
	return s.v.Transport(d.base, func(_ *http.Request, err error) { s.t.Error(err) }).RoundTrip(req)
}

// watch validates the answers of the server at addr, started with env, until t ends.
func (d *validating) watch(t *testing.T, addr string, env []string) {
	t.Helper()
	cfg, err := app.LoadConfig("", env)
	if err != nil {
		t.Fatalf("the server's configuration: %v", err)
	}
	doc, err := app.OpenAPI(app.Modules(app.Deps{}), cfg)
	if err != nil {
		t.Fatalf("the server's OpenAPI document: %v", err)
	}
	v, err := testapp.NewValidator(doc)
	if err != nil {
		t.Fatal(err)
	}
	d.mu.Lock()
	d.servers[addr] = served{t: t, v: v}
	d.mu.Unlock()
	t.Cleanup(func() {
		d.mu.Lock()
		delete(d.servers, addr)
		d.mu.Unlock()
	})
}
