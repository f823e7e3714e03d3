package web

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"
)

// BearerAuth admits requests under prefix only with "Authorization: Bearer <t>" for one of
// tokens; other paths pass. It is meant for Echo#Use rather than Group#Use: a group's
// middleware makes the router answer 404 instead of 405 for a wrong method. Tokens are
// compared as SHA-256 digests in constant time, so neither a token's content nor its length
// leaks through response timing. The decoded path is checked: any request the router can
// match under prefix is covered.
func BearerAuth(prefix string, tokens []string) echo.MiddlewareFunc {
	digests := make([][32]byte, len(tokens))
	for i, t := range tokens {
		digests[i] = sha256.Sum256([]byte(t))
	}
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if !strings.HasPrefix(c.Request().URL.Path, prefix) {
				return next(c)
			}
			scheme, token, ok := strings.Cut(c.Request().Header.Get(echo.HeaderAuthorization), " ")
			if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
				return unauthorized(c, "missing bearer token: send Authorization: Bearer <token>")
			}
			got := sha256.Sum256([]byte(token))
			match := 0
			for _, d := range digests {
				match |= subtle.ConstantTimeCompare(got[:], d[:])
			}
			if match != 1 {
				return unauthorized(c, "invalid bearer token")
			}
			return next(c)
		}
	}
}

func unauthorized(c echo.Context, detail string) error {
	c.Response().Header().Set(echo.HeaderWWWAuthenticate, `Bearer realm="api"`)
	return echo.NewHTTPError(http.StatusUnauthorized, detail)
}
