package web

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/labstack/echo/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"usersvc/platform/actor"
)

func TestParseToken(t *testing.T) {
	tok, err := ParseToken("ci-bot:right-token-0123456:with-colon")
	require.NoError(t, err)
	assert.Equal(t, Token{Name: "ci-bot", Secret: "right-token-0123456:with-colon"}, tok, "the name ends at the first colon")

	for entry, want := range map[string]string{
		"right-token-0123456":     "must be name:secret",
		":right-token-0123456":    `name "" must be`,
		"a b:right-token-0123456": `name "a b" must be`,
		"ci:short":                `secret of "ci" must be at least 16 characters`,
	} {
		_, err := ParseToken(entry)
		require.Error(t, err, entry)
		assert.Contains(t, err.Error(), want)
		assert.NotContains(t, err.Error(), "right-token", "a configuration error never shows a secret")
	}
}

// authServe serves GET /api/x behind the authenticator and reports the actor the handler saw.
func authServe(t *testing.T, a *Authenticator, open []string, path string, auth ...string) (*httptest.ResponseRecorder, string) {
	t.Helper()
	e := echo.New()
	e.HTTPErrorHandler = ErrorHandler(slog.New(slog.DiscardHandler))
	e.Use(a.Middleware("/api/", open))
	var who string
	h := func(c echo.Context) error {
		who = actor.From(c.Request().Context())
		return c.NoContent(http.StatusNoContent)
	}
	e.GET("/api/x", h)
	e.GET("/api/doc", h)
	req := httptest.NewRequest(http.MethodGet, path, nil)
	for _, v := range auth {
		req.Header.Add("Authorization", v)
	}
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, req)
	return rec, who
}

func TestAuthenticator(t *testing.T) {
	a := NewAuthenticator([]Token{{"other", "other-token-0123456"}, {"deploy", "right-token-0123456"}})

	rec, who := authServe(t, a, nil, "/api/x", "Bearer right-token-0123456")
	assert.Equal(t, http.StatusNoContent, rec.Code)
	assert.Equal(t, "deploy", who, "the token's name is the actor")

	rec, who = authServe(t, a, nil, "/api/x", "bearer   right-token-0123456")
	assert.Equal(t, http.StatusNoContent, rec.Code, "the scheme is case-insensitive (RFC 9110)")
	assert.Equal(t, "deploy", who)

	rec, _ = authServe(t, a, nil, "/api/x", "Bearer wrong-token-0123456")
	assert.Equal(t, http.StatusUnauthorized, rec.Code)
	assert.Contains(t, rec.Header().Get("WWW-Authenticate"), "Bearer")
	assert.Equal(t, ContentTypeProblem, rec.Header().Get("Content-Type"))

	rec, _ = authServe(t, a, nil, "/api/x")
	assert.Equal(t, http.StatusUnauthorized, rec.Code)

	// Issue 10, finding 7: the first of two headers used to win.
	rec, who = authServe(t, a, nil, "/api/x", "Bearer right-token-0123456", "Bearer other-token-0123456")
	assert.Equal(t, http.StatusBadRequest, rec.Code)
	assert.Contains(t, rec.Body.String(), "send one Authorization header, got 2")
	assert.Empty(t, who, "the handler did not run")

	rec, who = authServe(t, a, []string{"/api/doc"}, "/api/doc")
	assert.Equal(t, http.StatusNoContent, rec.Code, "an open path needs no token")
	assert.Equal(t, actor.System, who)
}
