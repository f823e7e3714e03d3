package app

import (
	"context"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"usersvc/platform/apperr"
	"usersvc/platform/resilience"
)

// readyTimeout bounds the readiness probe's database round trips.
const readyTimeout = time.Second

// healthz answers while the process runs: liveness must not depend on the database, or an
// orchestrator would restart healthy processes during a database outage.
func (a *App) healthz(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
}

// readyz answers 200 when the circuit breaker is not open, the database replies within a
// second and no migration is pending; otherwise 503 with the reason, so a load balancer
// stops sending traffic. Half-open counts as ready, so traffic can close the breaker again.
func (a *App) readyz(c echo.Context) error {
	if a.breaker.State() == resilience.StateOpen {
		return apperr.Unavailable("the database circuit breaker is open: the database has been failing")
	}
	ctx, cancel := context.WithTimeout(c.Request().Context(), readyTimeout)
	defer cancel()
	sqlDB, err := a.db.DB()
	if err != nil {
		return err
	}
	if err := sqlDB.PingContext(ctx); err != nil {
		return apperr.Unavailable("database did not answer a ping within %s", readyTimeout)
	}
	pending, err := a.migrator.Pending(ctx)
	if err != nil {
		return apperr.Unavailable("cannot read the migration state")
	}
	if pending > 0 {
		return apperr.Unavailable("%d migration(s) pending: run `server migrate up`", pending)
	}
	return c.JSON(http.StatusOK, map[string]string{"status": "ready"})
}
