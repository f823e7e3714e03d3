package web

import (
	"context"
	"net/http"

	"github.com/labstack/echo/v4"
)

// headKey marks the context of a request that arrived as HEAD and is served as GET.
type headKey struct{}

// HeadAsGet serves HEAD wherever h serves GET (RFC 9110 §9.3.2): h gets the request as a
// GET, and net/http drops the body it writes, because the connection still holds the HEAD
// request; status and headers are the GET's. It wraps the whole Echo app rather than being
// an Echo middleware, because Echo routes on the request it was given, whatever a
// middleware sets. Method gives logs and metrics the method the client sent.
func HeadAsGet(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodHead {
			r = r.Clone(context.WithValue(r.Context(), headKey{}, true))
			r.Method = http.MethodGet
		}
		h.ServeHTTP(w, r)
	})
}

// Method is the method the client sent (HEAD for a HEAD served as GET).
func Method(c echo.Context) string {
	if head, _ := c.Request().Context().Value(headKey{}).(bool); head {
		return http.MethodHead
	}
	return c.Request().Method
}
