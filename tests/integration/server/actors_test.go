package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// opsToken is a second token, named ops, for the servers that need two.
const opsToken = "ops-secret-0123456789"

// accessLog returns the server's access-log lines for path, decoded.
func accessLog(t *testing.T, s *server, method, path string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(s.stderr.String(), "\n") {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) != nil || rec["msg"] != "request" {
			continue
		}
		if rec["path"] == path && rec["method"] == method {
			out = append(out, rec)
		}
	}
	return out
}

// eventually waits for fn, for the access log written after the response.
func waitFor(t *testing.T, fn func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, eventually(ctx, 10*time.Millisecond, fn))
}

// Issue 10, finding 8: audit events recorded no actor. Each change's audit row names the
// token that made it (never its secret), and so does the access log.
func TestChangesRecordTheTokensName(t *testing.T) {
	t.Parallel()
	s := serve(t, serverEnv(newDatabase(t, "serve_actor"), "API_TOKENS=it:"+token+",ops:"+opsToken))
	s.waitReady(t)

	r := s.do(t, http.MethodPost, "/api/v1/users", `{"username":"actor1","email":"actor1@example.com"}`, token)
	require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
	var u struct{ ID string }
	require.NoError(t, json.Unmarshal(r.body, &u))
	req, err := http.NewRequest(http.MethodPatch, s.base+"/api/v1/users/"+u.ID, strings.NewReader(`{"full_name":"Renamed"}`))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+opsToken)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("If-Match", `"1"`)
	resp, err := client.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)

	r = s.do(t, http.MethodGet, "/api/v1/users/"+u.ID+"/events", "", token)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	var trail struct {
		Items []struct{ Action, Actor string }
	}
	require.NoError(t, json.Unmarshal(r.body, &trail))
	actors := map[string]string{}
	for _, e := range trail.Items {
		actors[e.Action] = e.Actor
	}
	assert.Equal(t, map[string]string{"created": "it", "updated": "ops"}, actors)

	var logged []map[string]any
	waitFor(t, func() bool {
		logged = accessLog(t, s, http.MethodPatch, "/api/v1/users/"+u.ID)
		return len(logged) == 1
	})
	assert.Equal(t, "ops", logged[0]["actor"])
	r = s.do(t, http.MethodGet, "/api/v1/users", "", "wrong-token-0123456789")
	require.Equal(t, http.StatusUnauthorized, r.status)
	waitFor(t, func() bool { logged = accessLog(t, s, http.MethodGet, "/api/v1/users"); return len(logged) == 1 })
	assert.Equal(t, "", logged[0]["actor"], "a refused request has no actor")
	assert.NotContains(t, s.stderr.String(), token, "no secret is ever logged")
	assert.NotContains(t, s.stderr.String(), opsToken, "no secret is ever logged")
	s.stop(t)
}

// Issue 10, finding 7: with two Authorization headers the first won.
func TestTwoAuthorizationHeadersAreBadRequest(t *testing.T) {
	t.Parallel()
	s := serve(t, serverEnv(newDatabase(t, "serve_two_auth"), "API_TOKENS=it:"+token+",ops:"+opsToken))
	s.waitReady(t)
	req, err := http.NewRequest(http.MethodGet, s.base+"/api/v1/users", nil)
	require.NoError(t, err)
	req.Header.Add("Authorization", "Bearer "+token)
	req.Header.Add("Authorization", "Bearer "+opsToken)
	resp, err := client.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	assert.Equal(t, "application/problem+json", resp.Header.Get("Content-Type"))
	s.stop(t)
}

// Issue 10, finding 4: Echo's default took the client IP from X-Forwarded-For, so any
// client chose the address in the access log (and now the per-client rate limit). It is
// believed only from http.trusted_proxies.
func TestForwardedForIsBelievedOnlyFromTrustedProxies(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, trusted, want string
	}{
		{"no trusted proxy", "", "127.0.0.1"},
		{"loopback trusted", "127.0.0.1/32", "203.0.113.9"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env := serverEnv(newDatabase(t, "serve_xff"))
			if tc.trusted != "" {
				env = append(env, "USERSVC_HTTP__TRUSTED_PROXIES="+tc.trusted)
			}
			s := serve(t, env)
			s.waitReady(t)
			req, err := http.NewRequest(http.MethodGet, s.base+"/api/v1/users", nil)
			require.NoError(t, err)
			req.Header.Set("Authorization", "Bearer "+token)
			req.Header.Set("X-Forwarded-For", "203.0.113.9")
			resp, err := client.Do(req)
			require.NoError(t, err)
			resp.Body.Close()
			require.Equal(t, http.StatusOK, resp.StatusCode)
			var logged []map[string]any
			waitFor(t, func() bool { logged = accessLog(t, s, http.MethodGet, "/api/v1/users"); return len(logged) == 1 })
			assert.Equal(t, tc.want, logged[0]["remote_ip"])
			s.stop(t)
		})
	}
}

// Issue 10, finding 9: nothing limited a client (2,000 wrong-token requests in 0.4 s, 20,000
// users created in 1.4 s). Over its bucket a token, or an address without a valid token,
// gets 429 with Retry-After; /metrics counts the refusals.
func TestRateLimits(t *testing.T) {
	t.Parallel()
	s := serve(t, serverEnv(newDatabase(t, "serve_limits"),
		"USERSVC_RATE_LIMIT__PER_TOKEN=0.2", "USERSVC_RATE_LIMIT__TOKEN_BURST=3",
		"USERSVC_RATE_LIMIT__PER_CLIENT=0.2", "USERSVC_RATE_LIMIT__CLIENT_BURST=2"))
	s.waitReady(t)
	for i := range 3 {
		r := s.do(t, http.MethodPost, "/api/v1/users", fmt.Sprintf(`{"username":"limited%d","email":"limited%d@example.com"}`, i, i), token)
		require.Equal(t, http.StatusCreated, r.status, "request %d is within the burst: %s", i, r.body)
	}
	r := s.do(t, http.MethodPost, "/api/v1/users", `{"username":"limited9","email":"limited9@example.com"}`, token)
	require.Equal(t, http.StatusTooManyRequests, r.status, "%s", r.body)
	assert.Equal(t, "5", r.header.Get("Retry-After"))
	_, detail := r.problem(t)
	assert.Contains(t, detail, "this token is over its rate limit")

	for range 2 {
		require.Equal(t, http.StatusUnauthorized, s.do(t, http.MethodGet, "/api/v1/users", "", "guess-0123456789abcdef").status)
	}
	r = s.do(t, http.MethodGet, "/api/v1/users", "", "guess-0123456789abcdef")
	require.Equal(t, http.StatusTooManyRequests, r.status)
	assert.NotEmpty(t, r.header.Get("Retry-After"))

	r = s.do(t, http.MethodGet, "/metrics", "", "")
	require.Equal(t, http.StatusOK, r.status)
	assert.Contains(t, string(r.body), `usersvc_http_rate_limited_total{by="token"} 1`)
	assert.Contains(t, string(r.body), `usersvc_http_rate_limited_total{by="client"} 1`)
	assert.Equal(t, http.StatusOK, s.do(t, http.MethodGet, "/readyz", "", "").status, "probes are not limited")
	s.stop(t)
}
