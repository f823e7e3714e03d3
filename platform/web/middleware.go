package web

import (
	"fmt"
	"log/slog"
	"regexp"
	"time"
	"usersvc/platform/actor"
	"usersvc/platform/requestid"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
)

// RequestID returns the id of the request, as echoed in X-Request-ID.
func RequestID(c echo.Context) string {
	return c.Response().Header().Get(echo.HeaderXRequestID)
}

// requestIDPattern is what we accept as a caller's X-Request-ID; anything else (too long,
// odd characters) is replaced, so ids are safe to log and to echo.
var requestIDPattern = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,64}$`)

// Stack is the middleware every route gets, outermost first: request id (so every later
// log line has it), access log (sees the final status), metrics (given; it renders errors so
// it records the status sent), recover (turns a panic into a 500 through the error handler,
// which logs it once with the stack), body limit (413 before a handler reads too much), and a
// per-request deadline that database calls inherit.
func Stack(log *slog.Logger, metrics echo.MiddlewareFunc, bodyLimit string, requestTimeout time.Duration) []echo.MiddlewareFunc {
	return []echo.MiddlewareFunc{
		middleware.RequestIDWithConfig(middleware.RequestIDConfig{
			Skipper: func(c echo.Context) bool {
				if !requestIDPattern.MatchString(c.Request().Header.Get(echo.HeaderXRequestID)) {
					c.Request().Header.Del(echo.HeaderXRequestID) // generate one instead
				}
				return false
			},
			RequestIDHandler: func(c echo.Context, id string) {
				c.SetRequest(c.Request().WithContext(requestid.With(c.Request().Context(), id)))
			},
		}),
		middleware.RequestLoggerWithConfig(middleware.RequestLoggerConfig{
			LogStatus: true, LogMethod: true, LogURIPath: true, LogLatency: true,
			LogRequestID: true, LogRemoteIP: true, LogResponseSize: true, HandleError: true,
			LogValuesFunc: func(c echo.Context, v middleware.RequestLoggerValues) error {
				log.LogAttrs(c.Request().Context(), slog.LevelInfo, "request",
					slog.String("request_id", v.RequestID),
					slog.String("method", Method(c)),
					slog.String("path", v.URIPath),
					slog.String("route", c.Path()),
					slog.Int("status", v.Status),
					slog.Duration("latency", v.Latency),
					slog.Int64("bytes_out", v.ResponseSize),
					slog.String("remote_ip", v.RemoteIP),
					slog.String("actor", actorOf(c)))
				return nil
			},
		}),
		metrics,
		middleware.RecoverWithConfig(middleware.RecoverConfig{
			LogErrorFunc: func(_ echo.Context, err error, stack []byte) error {
				return fmt.Errorf("panic: %w\n%s", err, stack) // logged by the error handler
			},
		}),
		middleware.BodyLimit(bodyLimit),
		middleware.ContextTimeout(requestTimeout),
	}
}

// actorOf is the name of the token the request authenticated with, "" when it did not.
func actorOf(c echo.Context) string {
	if name := actor.From(c.Request().Context()); name != actor.System {
		return name
	}
	return ""
}

// Optional returns mw, or middleware that does nothing when mw is nil (a module built
// without it, in a test).
func Optional(mw echo.MiddlewareFunc) echo.MiddlewareFunc {
	if mw == nil {
		return func(next echo.HandlerFunc) echo.HandlerFunc { return next }
	}
	return mw
}
