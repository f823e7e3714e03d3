package server_test

import (
	"net/http"
	"strings"
	"testing"
)

// TestAuth: health routes are open (probes carry no token); /api routes need one of the
// configured bearer tokens and answer 401 problem+json with a Bearer challenge otherwise.
func TestAuth(t *testing.T) {
	t.Parallel()
	dbURL := newDatabase(t, "serve_auth")
	s := serve(t, serverEnv(dbURL))
	s.waitReady(t)

	for _, path := range []string{"/healthz", "/readyz"} {
		if r := s.do(t, http.MethodGet, path, "", ""); r.status != http.StatusOK {
			t.Errorf("GET %s without a token: %d %s; want 200", path, r.status, r.body)
		}
	}

	for _, tc := range []struct {
		name, method, path, body, header string
	}{
		{name: "no token", method: http.MethodGet, path: "/api/v1/users"},
		{name: "wrong token", method: http.MethodGet, path: "/api/v1/users", header: "Bearer wrong-token-0123456789"},
		{name: "token with a suffix", method: http.MethodGet, path: "/api/v1/users", header: "Bearer " + token + "x"},
		{name: "other scheme", method: http.MethodGet, path: "/api/v1/users", header: "Basic " + token},
		{name: "empty bearer", method: http.MethodGet, path: "/api/v1/users", header: "Bearer "},
		{name: "write without token", method: http.MethodPost, path: "/api/v1/users",
			body: `{"username":"intruder","email":"intruder@example.com"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := s.doHeader(t, tc.method, tc.path, tc.body, tc.header)
			if r.status != http.StatusUnauthorized {
				t.Fatalf("%s %s: %d %s; want 401", tc.method, tc.path, r.status, r.body)
			}
			if status, _ := r.problem(t); status != http.StatusUnauthorized {
				t.Errorf("problem status %d; want 401", status)
			}
			if wa := r.header.Get("WWW-Authenticate"); !strings.HasPrefix(wa, "Bearer") {
				t.Errorf("WWW-Authenticate = %q; want a Bearer challenge", wa)
			}
		})
	}

	r := s.do(t, http.MethodGet, "/api/v1/users", "", token)
	if r.status != http.StatusOK {
		t.Errorf("GET /api/v1/users with the token: %d %s; want 200", r.status, r.body)
	}
	r = s.do(t, http.MethodGet, "/api/v1/users", "", "")
	if r.status != http.StatusUnauthorized {
		t.Errorf("GET /api/v1/users without a token after an authorised one: %d; want 401", r.status)
	}
	// The unauthorised POST created nothing.
	if r := s.do(t, http.MethodGet, "/api/v1/users", "", token); strings.Contains(string(r.body), "intruder") {
		t.Errorf("a request without a token created a user: %s", r.body)
	}
	s.stop(t)
}
