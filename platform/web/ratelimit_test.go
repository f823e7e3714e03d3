package web

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Issue 10, finding 9: nothing limited a client (2,000 wrong-token requests in 0.4 s).
func TestRateLimit(t *testing.T) {
	reg := prometheus.NewRegistry()
	auth := NewAuthenticator([]Token{{"a", "token-a-0123456789"}, {"b", "token-b-0123456789"}})
	e := echo.New()
	e.HTTPErrorHandler = ErrorHandler(slog.New(slog.DiscardHandler))
	e.Use(RateLimit(reg, "test", "/api/", RateLimits{PerToken: 0.5, TokenBurst: 3, PerClient: 0.25, ClientBurst: 2, Expiry: time.Minute}, auth.Identify))
	e.Use(auth.Middleware("/api/", nil))
	e.GET("/api/x", func(c echo.Context) error { return c.NoContent(http.StatusNoContent) })
	e.GET("/healthz", func(c echo.Context) error { return c.NoContent(http.StatusNoContent) })
	send := func(path, ip string, auth ...string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		req.RemoteAddr = ip + ":40000"
		for _, v := range auth {
			req.Header.Add("Authorization", v)
		}
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, req)
		return rec
	}

	for i := range 3 {
		assert.Equal(t, http.StatusNoContent, send("/api/x", "10.0.0.1", "Bearer token-a-0123456789").Code, "request %d is within the burst", i)
	}
	rec := send("/api/x", "10.0.0.2", "Bearer token-a-0123456789")
	assert.Equal(t, http.StatusTooManyRequests, rec.Code, "the bucket is the token's, whatever the address")
	assert.Equal(t, "2", rec.Header().Get("Retry-After"), "one request's worth comes back in 1/0.5 s")
	assert.Equal(t, ContentTypeProblem, rec.Header().Get("Content-Type"))
	assert.Contains(t, rec.Body.String(), "this token is over its rate limit")
	assert.Equal(t, http.StatusNoContent, send("/api/x", "10.0.0.1", "Bearer token-b-0123456789").Code, "another token has its own bucket")

	// Without a valid token the client address is limited, before the token is checked.
	assert.Equal(t, http.StatusUnauthorized, send("/api/x", "10.0.0.3", "Bearer guess-0123456789abc").Code)
	assert.Equal(t, http.StatusUnauthorized, send("/api/x", "10.0.0.3").Code)
	rec = send("/api/x", "10.0.0.3", "Bearer guess-0123456789xyz")
	assert.Equal(t, http.StatusTooManyRequests, rec.Code)
	assert.Equal(t, "4", rec.Header().Get("Retry-After"))
	assert.Contains(t, rec.Body.String(), "without a valid token from this address")
	assert.Equal(t, http.StatusNoContent, send("/api/x", "10.0.0.3", "Bearer token-b-0123456789").Code,
		"a valid token is not held back by its address's failures")
	assert.Equal(t, http.StatusUnauthorized, send("/api/x", "10.0.0.4").Code, "another address has its own bucket")
	assert.Equal(t, http.StatusNoContent, send("/healthz", "10.0.0.3").Code, "only the API is limited")

	require.Equal(t, 1.0, rejections(t, reg, "token"))
	require.Equal(t, 1.0, rejections(t, reg, "client"))
}

func rejections(t *testing.T, reg *prometheus.Registry, by string) float64 {
	t.Helper()
	families, err := reg.Gather()
	require.NoError(t, err)
	for _, f := range families {
		if f.GetName() != "test_http_rate_limited_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "by" && l.GetValue() == by {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	t.Fatalf("no rate_limited_total{by=%q}", by)
	return 0
}
