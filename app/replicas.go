package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/labstack/echo/v4"
	"gorm.io/gorm"

	"usersvc/platform/apperr"
	"usersvc/platform/db"
	"usersvc/platform/resilience"
)

// ConsistencyTokenHeader carries a write's WAL position to the client, and back on a read
// that must see that write.
const ConsistencyTokenHeader = "Consistency-Token"

// openReplicas opens a pool and a circuit breaker per database.replicas URL and starts
// sampling their staleness; with none it returns nil and a no-op close.
func openReplicas(cfg Config, log *slog.Logger, primary *gorm.DB, tel *telemetry) (*db.Replicas, func() error, error) {
	if len(cfg.Database.Replicas) == 0 {
		return nil, func() error { return nil }, nil
	}
	var members []db.Replica
	closeAll := func() error {
		var errs []error
		for _, m := range members {
			m.Breaker.Close()
			errs = append(errs, db.Close(m.DB))
		}
		return errors.Join(errs...)
	}
	for i, u := range cfg.Database.Replicas {
		name := replicaName(i, u)
		c := dbConfig(cfg)
		c.URL, c.NoStartupPing = u, true
		gdb, err := db.Open(context.Background(), c, log)
		if err != nil {
			_ = closeAll()
			return nil, nil, fmt.Errorf("app: database.replicas[%d]: %w", i, err)
		}
		b := cfg.Resilience.Breaker
		breaker, err := resilience.NewBreaker(resilience.BreakerConfig{
			FailureThreshold: b.FailureThreshold, Window: b.Window, OpenTimeout: b.OpenTimeout, MaxOpenTimeout: b.MaxOpenTimeout,
			HalfOpenProbes: b.HalfOpenProbes, HalfOpenSuccesses: b.HalfOpenSuccesses,
			OnStateChange: func(from, to resilience.State, _ string) {
				log.Warn("replica circuit breaker changed state", "replica", name, "from", string(from), "to", string(to))
			},
		})
		if err != nil {
			_ = db.Close(gdb)
			_ = closeAll()
			return nil, nil, err
		}
		members = append(members, db.Replica{Name: name, DB: gdb, Breaker: breaker})
	}
	maxStale := cfg.Database.ReplicaMaxStaleness
	set := db.NewReplicas(primary, members, db.ReplicasConfig{
		MaxStaleness: maxStale, Wait: cfg.Database.ReplicaWait, Logger: log,
		// Sampled a few times within the bound, so a caught-up replica stays usable.
		Interval: min(max(maxStale/4, 5*time.Millisecond), 250*time.Millisecond),
	}, tel.registry, metricsNamespace)
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); set.Run(ctx) }()
	return set, func() error { stop(); <-done; return closeAll() }, nil
}

// replicaName names a replica in logs and metrics by its host and port, never its password.
func replicaName(i int, url string) string {
	if c, err := pgx.ParseConfig(url); err == nil {
		return fmt.Sprintf("%s:%d", c.Host, c.Port)
	}
	return fmt.Sprintf("replica%d", i)
}

// consistency routes reads and hands out consistency tokens. A GET or HEAD may be served by
// a replica: within database.replica_max_staleness, or, when it presents a Consistency-Token,
// only by one that has replayed that far. Any other request records the WAL position after
// its writes and answers with it in Consistency-Token.
func consistency(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		req := c.Request()
		if req.Method == http.MethodGet || req.Method == http.MethodHead {
			var after db.LSN
			if tok := req.Header.Values(ConsistencyTokenHeader); len(tok) > 0 {
				lsn, err := db.ParseLSN(tok[0])
				if err != nil || len(tok) > 1 {
					return apperr.Invalid("header %s must be one token from a write's response, like 16/B374D848", ConsistencyTokenHeader)
				}
				after = lsn
			}
			c.SetRequest(req.WithContext(db.ReadFromReplica(req.Context(), after)))
			return next(c)
		}
		ctx, commits := db.RecordCommits(req.Context())
		c.SetRequest(req.WithContext(ctx))
		c.Response().Before(func() {
			if lsn := commits.LSN(); lsn != 0 {
				c.Response().Header().Set(ConsistencyTokenHeader, lsn.String())
			}
		})
		return next(c)
	}
}
