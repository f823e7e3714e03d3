// Package web is the HTTP side every module shares: problem+json errors mapped from apperr in
// one place, bearer-token auth, strict JSON decoding and the middleware stack.
package web

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"usersvc/platform/apperr"
)

// Problem is an RFC 9457 problem details body.
type Problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail,omitempty"`
}

// ContentTypeProblem is the media type of Problem bodies.
const ContentTypeProblem = "application/problem+json"

// StatusClientClosedRequest is logged for requests whose client went away first.
const StatusClientClosedRequest = 499

// RetryAfterSeconds is sent with every 503 so clients back off instead of hammering.
const RetryAfterSeconds = 1

// statusOf is the one map from domain errors to HTTP status.
func statusOf(err error) int {
	var he *echo.HTTPError
	switch {
	case errors.Is(err, apperr.ErrInvalid):
		return http.StatusBadRequest
	case errors.Is(err, apperr.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, apperr.ErrConflict):
		return http.StatusConflict
	case errors.Is(err, apperr.ErrVersionMismatch):
		return http.StatusPreconditionFailed
	case errors.Is(err, apperr.ErrKeyReused):
		return http.StatusUnprocessableEntity
	case errors.Is(err, apperr.ErrUnavailable):
		return http.StatusServiceUnavailable
	case errors.As(err, &he):
		return he.Code // routing (404/405), body limit (413), media type (415), auth (401)
	default:
		return http.StatusInternalServerError
	}
}

// ErrorHandler renders every error a handler returns as problem+json. Internal errors are
// logged once, with the request id, and the client only learns "internal error".
func ErrorHandler(log *slog.Logger) echo.HTTPErrorHandler {
	return func(err error, c echo.Context) {
		if c.Response().Committed {
			return
		}
		if errors.Is(err, context.Canceled) {
			// The client has gone and nobody reads an answer; record 499 (nginx's "client
			// closed request") for the access log instead of a 200 that never happened.
			c.Response().Status = StatusClientClosedRequest
			return
		}
		status := statusOf(err)
		p := Problem{Type: "about:blank", Title: http.StatusText(status), Status: status, Detail: detailOf(c, err, status)}
		switch {
		case status == http.StatusServiceUnavailable:
			c.Response().Header().Set("Retry-After", strconv.Itoa(RetryAfterSeconds))
			log.WarnContext(c.Request().Context(), "unavailable", "request_id", RequestID(c), "err", err)
		case status >= 500:
			log.ErrorContext(c.Request().Context(), "internal error", "request_id", RequestID(c),
				"method", Method(c), "route", c.Path(), "err", err)
		}
		c.Response().Header().Set(echo.HeaderContentType, ContentTypeProblem)
		if Method(c) == http.MethodHead {
			err = c.NoContent(status)
		} else {
			err = c.JSON(status, p)
		}
		if err != nil {
			log.WarnContext(c.Request().Context(), "write error response", "request_id", RequestID(c), "err", err)
		}
	}
}

func detailOf(c echo.Context, err error, status int) string {
	if d := apperr.Detail(err); d != "" {
		return d
	}
	var he *echo.HTTPError
	if errors.As(err, &he) && status < 500 {
		if msg, ok := he.Message.(string); ok && msg != http.StatusText(status) {
			return msg
		}
	}
	switch status {
	case http.StatusNotFound:
		return "no such route: " + Method(c) + " " + c.Request().URL.Path
	case http.StatusMethodNotAllowed:
		return Method(c) + " is not allowed here; see the Allow header"
	case http.StatusRequestEntityTooLarge:
		return "the request body is larger than the server accepts"
	case http.StatusServiceUnavailable:
		return "the database is unavailable; retry later"
	case http.StatusInternalServerError:
		return "internal error"
	}
	return ""
}
