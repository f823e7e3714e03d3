package web

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"
)

// RateLimits are the token buckets of RateLimit, per instance: n instances admit n times as
// much in all.
type RateLimits struct {
	PerToken   float64 // requests per second each token may make, sustained
	TokenBurst int     // requests a token may make at once, after a quiet spell
	// PerClient and ClientBurst limit each client IP's requests that carry no valid token
	// (no token, a wrong one): guessing tokens, or a client misconfigured in a loop.
	PerClient   float64
	ClientBurst int
	// Expiry forgets a bucket unused this long (it is full again by then).
	Expiry time.Duration
}

// RateLimit answers 429 with Retry-After, as problem+json, to requests under prefix beyond
// limits: a token bucket per token (identify names the token a request carries; nil when
// authentication is off) and one per client IP for requests without a valid token. It runs
// before authentication, so a flood of wrong tokens is turned away before any is checked
// twice. Rejections are counted in <namespace>_http_rate_limited_total{by="token"|"client"}.
func RateLimit(reg prometheus.Registerer, namespace, prefix string, limits RateLimits,
	identify func(http.Header) (string, error)) echo.MiddlewareFunc {
	rejected := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Subsystem: "http", Name: "rate_limited_total",
		Help: "Requests answered 429 because their token or client IP was over its rate limit.",
	}, []string{"by"})
	reg.MustRegister(rejected)
	buckets := bucketStore{
		"token":  middleware.NewRateLimiterMemoryStoreWithConfig(middleware.RateLimiterMemoryStoreConfig{Rate: rate.Limit(limits.PerToken), Burst: limits.TokenBurst, ExpiresIn: limits.Expiry}),
		"client": middleware.NewRateLimiterMemoryStoreWithConfig(middleware.RateLimiterMemoryStoreConfig{Rate: rate.Limit(limits.PerClient), Burst: limits.ClientBurst, ExpiresIn: limits.Expiry}),
	}
	retryAfter := map[string]string{"token": wait(limits.PerToken), "client": wait(limits.PerClient)}
	return middleware.RateLimiterWithConfig(middleware.RateLimiterConfig{
		Skipper: func(c echo.Context) bool { return !strings.HasPrefix(c.Request().URL.Path, prefix) },
		Store:   buckets,
		IdentifierExtractor: func(c echo.Context) (string, error) {
			if identify != nil {
				if name, err := identify(c.Request().Header); err == nil {
					return "token:" + name, nil
				}
			}
			return "client:" + c.RealIP(), nil
		},
		DenyHandler: func(c echo.Context, id string, _ error) error {
			by, _, _ := strings.Cut(id, ":")
			rejected.WithLabelValues(by).Inc()
			c.Response().Header().Set("Retry-After", retryAfter[by])
			if by == "token" {
				return echo.NewHTTPError(http.StatusTooManyRequests, "this token is over its rate limit; retry after the Retry-After seconds")
			}
			return echo.NewHTTPError(http.StatusTooManyRequests, "too many requests without a valid token from this address; retry after the Retry-After seconds")
		},
	})
}

// wait is the Retry-After of a bucket refilled at perSecond: the time one request's worth
// takes to come back, in whole seconds, at least 1.
func wait(perSecond float64) string {
	if perSecond <= 0 {
		return "60"
	}
	return strconv.Itoa(int(math.Max(1, math.Ceil(1/perSecond))))
}

// bucketStore sends "token:…" and "client:…" identifiers to their own buckets.
type bucketStore map[string]*middleware.RateLimiterMemoryStore

func (b bucketStore) Allow(id string) (bool, error) {
	by, _, _ := strings.Cut(id, ":")
	store, ok := b[by]
	if !ok {
		return false, fmt.Errorf("web: rate limit: no buckets for %q", by)
	}
	return store.Allow(id)
}
