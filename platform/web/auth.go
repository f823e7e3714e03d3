package web

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"

	"github.com/labstack/echo/v4"

	"usersvc/platform/actor"
	"usersvc/platform/apperr"
)

// Token is an accepted bearer token: Name is who uses it (recorded as the actor of every
// change made with it, in the audit trail and the access log), Secret what they send.
type Token struct {
	Name, Secret string
}

// tokenName is what a token's name may be: safe to log and to store as an actor.
var tokenName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)

// ParseToken reads a configured token, "name:secret".
func ParseToken(entry string) (Token, error) {
	name, secret, ok := strings.Cut(entry, ":")
	switch {
	case !ok:
		return Token{}, fmt.Errorf("must be name:secret (the name is recorded as the actor of its changes), e.g. ci:%s", strings.Repeat("x", 16))
	case !tokenName.MatchString(name):
		return Token{}, fmt.Errorf("name %q must be 1 to 64 characters of A-Z, a-z, 0-9, '_', '.' or '-'", name)
	case len(secret) < 16:
		return Token{}, fmt.Errorf("secret of %q must be at least 16 characters", name)
	}
	return Token{Name: name, Secret: secret}, nil
}

// Authenticator knows the accepted tokens. Secrets are compared as SHA-256 digests in
// constant time, so neither a secret's content nor its length leaks through response timing.
type Authenticator struct {
	tokens  []Token
	digests [][32]byte
}

// NewAuthenticator accepts tokens.
func NewAuthenticator(tokens []Token) *Authenticator {
	a := &Authenticator{tokens: tokens, digests: make([][32]byte, len(tokens))}
	for i, t := range tokens {
		a.digests[i] = sha256.Sum256([]byte(t.Secret))
	}
	return a
}

// Identify returns the name of the token h's one "Authorization: Bearer <secret>" header
// carries. Errors: ErrInvalid for two or more Authorization headers (a proxy may have added
// one: which token acts?), a 401 for a missing or unknown token.
func (a *Authenticator) Identify(h http.Header) (string, error) {
	if n := len(h.Values(echo.HeaderAuthorization)); n > 1 {
		return "", apperr.Invalid("send one Authorization header, got %d", n)
	}
	scheme, secret, ok := strings.Cut(h.Get(echo.HeaderAuthorization), " ")
	secret = strings.TrimLeft(secret, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || secret == "" {
		return "", echo.NewHTTPError(http.StatusUnauthorized, "missing bearer token: send Authorization: Bearer <token>")
	}
	got := sha256.Sum256([]byte(secret))
	found := -1
	for i, d := range a.digests { // no early exit: every digest is compared
		if subtle.ConstantTimeCompare(got[:], d[:]) == 1 {
			found = i
		}
	}
	if found < 0 {
		return "", echo.NewHTTPError(http.StatusUnauthorized, "invalid bearer token")
	}
	return a.tokens[found].Name, nil
}

// Middleware admits requests under prefix only when Identify accepts them, and makes the
// token's name the request's actor (package actor); paths in open, and paths outside
// prefix, pass without. It is meant for Echo#Use rather than Group#Use: a group's
// middleware makes the router answer 404 instead of 405 for a wrong method. The decoded
// path is checked: any request the router can match under prefix is covered.
func (a *Authenticator) Middleware(prefix string, open []string) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			path := c.Request().URL.Path
			if !strings.HasPrefix(path, prefix) || slices.Contains(open, path) {
				return next(c)
			}
			name, err := a.Identify(c.Request().Header)
			var he *echo.HTTPError
			if errors.As(err, &he) && he.Code == http.StatusUnauthorized {
				c.Response().Header().Set(echo.HeaderWWWAuthenticate, `Bearer realm="api"`)
			}
			if err != nil {
				return err
			}
			SetActor(c, name)
			return next(c)
		}
	}
}

// SetActor makes name the actor of the request's changes.
func SetActor(c echo.Context, name string) {
	c.SetRequest(c.Request().WithContext(actor.With(c.Request().Context(), name)))
}

// Anonymous makes every request under prefix act as actor.Anonymous: authentication is off.
func Anonymous(prefix string) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if strings.HasPrefix(c.Request().URL.Path, prefix) {
				SetActor(c, actor.Anonymous)
			}
			return next(c)
		}
	}
}
