package app

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"time"
)

// Serve applies pending migrations when migrations.auto is set, then serves HTTP (and the
// metrics listener when metrics.addr is set) until ctx is cancelled (SIGINT/SIGTERM). It then
// stops accepting connections and gives in-flight requests http.shutdown_grace to finish; the
// caller closes the pool afterwards.
func (a *App) Serve(ctx context.Context) error {
	if a.cfg.Pagination.CursorSecret == "" {
		a.log.Warn("pagination.cursor_secret is empty: using a random key, so page cursors break across restarts and instances")
	}
	if a.cfg.Migrations.Auto {
		if _, err := a.migrator.Up(ctx, ""); err != nil {
			return err
		}
	}
	// Deliveries run on until Close stops them, after the HTTP servers: a delivery that the
	// shutdown interrupted is delivered again, by this instance or another. They start once
	// the schema is current (an operator may migrate a running instance).
	go a.startEvents(ctx)

	servers := []*http.Server{a.httpServer(a.handler)}
	addrs := []string{a.cfg.HTTP.Addr}
	if a.cfg.Metrics.Addr != "" {
		mux := http.NewServeMux()
		mux.Handle("/metrics", a.telemetry.handler())
		if a.cfg.Metrics.Pprof {
			mux.HandleFunc("/debug/pprof/", pprof.Index)
			mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
			mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		}
		servers = append(servers, a.httpServer(mux))
		addrs = append(addrs, a.cfg.Metrics.Addr)
	}
	served := make(chan error, len(servers))
	for i, srv := range servers {
		ln, err := net.Listen("tcp", addrs[i])
		if err != nil {
			shutdown(context.Background(), servers[:i])
			return fmt.Errorf("app: listen on %s: %w", addrs[i], err)
		}
		go func() { served <- srv.Serve(ln) }()
		a.log.Info("listening", "addr", ln.Addr().String(), "serves", map[bool]string{true: "api", false: "metrics"}[i == 0])
	}

	select {
	case err := <-served:
		shutdown(context.Background(), servers)
		return fmt.Errorf("app: serve: %w", err)
	case <-ctx.Done():
	}
	a.log.Info("shutting down", "grace", a.cfg.HTTP.ShutdownGrace)
	graceCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), a.cfg.HTTP.ShutdownGrace)
	defer cancel()
	if err := shutdown(graceCtx, servers); err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("app: in-flight requests did not finish within %s; closed them", a.cfg.HTTP.ShutdownGrace)
		}
		return fmt.Errorf("app: shutdown: %w", err)
	}
	a.log.Info("stopped")
	return nil
}

// startEvents starts event delivery as soon as no migration is pending, checking every
// second until ctx ends.
func (a *App) startEvents(ctx context.Context) {
	for {
		pending, err := a.migrator.Pending(ctx)
		if err == nil && pending == 0 {
			if err := a.events.Start(context.WithoutCancel(ctx)); err != nil {
				a.log.Error("event delivery did not start", "err", err)
			}
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
	}
}

func (a *App) httpServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: a.cfg.HTTP.ReadHeaderTimeout,
		ReadTimeout:       a.cfg.HTTP.ReadTimeout,
		WriteTimeout:      a.cfg.HTTP.WriteTimeout,
		IdleTimeout:       a.cfg.HTTP.IdleTimeout,
		MaxHeaderBytes:    a.cfg.HTTP.MaxHeaderBytes,
	}
}

// shutdown stops the servers gracefully within ctx, closing those that do not finish.
func shutdown(ctx context.Context, servers []*http.Server) error {
	var errs []error
	for _, srv := range servers {
		if err := srv.Shutdown(ctx); err != nil {
			_ = srv.Close()
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
