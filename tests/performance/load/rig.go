package load

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5"
	vegeta "github.com/tsenart/vegeta/v12/lib"

	"usersvc/tests/performance/perfkit"
)

// rig is a suite's test bench: the server under load (restarted when a setting changes),
// one HTTP client for every attack, and the request builders.
type rig struct {
	env    *perfkit.Env
	client *http.Client
	t      *targets
	srv    *Server
}

func newRig(env *perfkit.Env) (*rig, error) {
	t, err := newTargets(env.Data)
	if err != nil {
		return nil, err
	}
	return &rig{env: env, client: newClient(), t: t}, nil
}

// start (re)starts the server with a pool of poolSize and the extra settings, then warms it
// up: the pool filled and every connection's statement cache primed.
func (r *rig) start(ctx context.Context, poolSize int, extra ...string) error {
	if err := r.stopServer(); err != nil {
		return err
	}
	began := time.Now()
	srv, err := startServer(ctx, r.env, poolSize, extra...)
	if err != nil {
		return err
	}
	r.srv = srv
	r.t.at(srv)
	ready := time.Since(began)
	_, err = attack(ctx, r.client, load{name: "warm-up", clients: 2 * poolSize, dur: 300 * time.Millisecond,
		target: r.t.mixed, check: func(*vegeta.Result) string { return "" }})
	r.log().Debug("load: server started", "base", srv.base, "pool", poolSize, "settings", extra,
		"ready_after", ready, "warmed_after", time.Since(began))
	return err
}

func (r *rig) log() *slog.Logger {
	if r.env.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return r.env.Log
}

func (r *rig) stopServer() error {
	if r.srv == nil {
		return nil
	}
	// Our idle connections first: the server's graceful shutdown waits up to 5 s for
	// connections that never carried a request (the transport dials spares under load).
	r.client.CloseIdleConnections()
	began := time.Now()
	err := r.srv.Stop()
	r.log().Debug("load: server stopped", "base", r.srv.base, "took", time.Since(began))
	r.srv = nil
	return err
}

// step runs l and returns what it got with the change of the pool's counters meanwhile.
func (r *rig) step(ctx context.Context, l load) (*outcome, poolStats, error) {
	before, err := scrapePool(ctx, r.client, r.srv.metrics)
	if err != nil {
		return nil, poolStats{}, err
	}
	out, err := attack(ctx, r.client, l)
	if err != nil {
		return nil, poolStats{}, err
	}
	after, err := scrapePool(ctx, r.client, r.srv.metrics)
	if err != nil {
		return nil, poolStats{}, err
	}
	return out, after.sub(before), nil
}

// close stops the server and deletes the users the suite registered, so the data set is
// again the seeded one for the suites after this one. It returns how many it deleted.
func (r *rig) close(ctx context.Context) (int64, error) {
	stopErr := r.stopServer()
	n, err := deleteUsersLike(ctx, r.env.DBURL, r.t.likePattern())
	return n, errors.Join(stopErr, err)
}

// deleteUsersLike deletes the users whose username is LIKE pattern, and their events.
func deleteUsersLike(ctx context.Context, dbURL, pattern string) (int64, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return 0, fmt.Errorf("load: clean up: %w", err)
	}
	defer conn.Close(context.Background())
	var n int64
	err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM user_events WHERE user_id IN (SELECT id FROM users WHERE username LIKE $1)`, pattern); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `DELETE FROM users WHERE username LIKE $1`, pattern)
		n = tag.RowsAffected()
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("load: clean up users LIKE %q: %w", pattern, err)
	}
	return n, nil
}

// finish closes r at the end of a suite: a failure to stop the server or to clean up
// becomes the suite's error unless it already has one (then it is logged).
func (r *rig) finish(ctx context.Context, s *perfkit.Suite, err *error) {
	n, cerr := r.close(ctx)
	log := r.log()
	switch {
	case cerr != nil && *err == nil:
		*err = cerr
	case cerr != nil:
		log.Warn("load: finishing the suite", "suite", s.ID, "err", cerr)
	default:
		log.Info("load: deleted the users the suite registered", "suite", s.ID, "users", n)
	}
}
