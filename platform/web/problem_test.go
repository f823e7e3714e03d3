package web

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"usersvc/platform/apperr"
)

func serve(t *testing.T, handler echo.HandlerFunc, mw ...echo.MiddlewareFunc) *httptest.ResponseRecorder {
	t.Helper()
	e := echo.New()
	e.HTTPErrorHandler = ErrorHandler(slog.New(slog.DiscardHandler))
	e.Use(mw...)
	e.GET("/x", handler)
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/x", nil)
	req.Header.Set("Authorization", "Bearer right-token-0123456")
	e.ServeHTTP(rec, req)
	return rec
}

func TestErrorsMapToProblemJSON(t *testing.T) {
	cases := []struct {
		err    error
		status int
		detail string
	}{
		{fmt.Errorf("users: get: %w", apperr.NotFound("user 1 not found")), 404, "user 1 not found"},
		{apperr.Invalid("limit must be …"), 400, "limit must be …"},
		{fmt.Errorf("wrapped: %w", apperr.Conflict("email is already taken")), 409, "email is already taken"},
		{apperr.VersionMismatch("stale"), 412, "stale"},
		{fmt.Errorf("%w: %w", apperr.ErrUnavailable, errors.New("dial tcp: refused")), 503, "retry later"},
		{errors.New("pq: secret internals"), 500, "internal error"},
		{echo.NewHTTPError(http.StatusUnsupportedMediaType, "send JSON"), 415, "send JSON"},
	}
	for _, tc := range cases {
		t.Run(http.StatusText(tc.status), func(t *testing.T) {
			rec := serve(t, func(echo.Context) error { return tc.err })
			require.Equal(t, tc.status, rec.Code)
			assert.Equal(t, ContentTypeProblem, rec.Header().Get("Content-Type"))
			var p Problem
			require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &p))
			assert.Equal(t, tc.status, p.Status)
			assert.Equal(t, http.StatusText(tc.status), p.Title)
			assert.Equal(t, "about:blank", p.Type)
			assert.Contains(t, p.Detail, tc.detail)
			assert.NotContains(t, rec.Body.String(), "secret internals", "internal errors stay in the log")
			if tc.status == 503 {
				assert.Equal(t, "1", rec.Header().Get("Retry-After"))
			}
		})
	}
}
