package app

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
)

// Serve applies pending migrations when migrations.auto is set, then serves HTTP until ctx
// is cancelled (SIGINT/SIGTERM). It then stops accepting connections and gives in-flight
// requests http.shutdown_grace to finish; the caller closes the pool afterwards.
func (a *App) Serve(ctx context.Context) error {
	if a.cfg.Pagination.CursorSecret == "" {
		a.log.Warn("pagination.cursor_secret is empty: using a random key, so page cursors break across restarts and instances")
	}
	if a.cfg.Migrations.Auto {
		if _, err := a.migrator.Up(ctx, ""); err != nil {
			return err
		}
	}
	ln, err := net.Listen("tcp", a.cfg.HTTP.Addr)
	if err != nil {
		return fmt.Errorf("app: listen on %s: %w", a.cfg.HTTP.Addr, err)
	}
	srv := &http.Server{
		Handler:           a.echo,
		ReadHeaderTimeout: a.cfg.HTTP.ReadHeaderTimeout,
		ReadTimeout:       a.cfg.HTTP.ReadTimeout,
		WriteTimeout:      a.cfg.HTTP.WriteTimeout,
		IdleTimeout:       a.cfg.HTTP.IdleTimeout,
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	a.log.Info("listening", "addr", ln.Addr().String())

	select {
	case err := <-served:
		return fmt.Errorf("app: serve: %w", err)
	case <-ctx.Done():
	}
	a.log.Info("shutting down", "grace", a.cfg.HTTP.ShutdownGrace)
	graceCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), a.cfg.HTTP.ShutdownGrace)
	defer cancel()
	if err := srv.Shutdown(graceCtx); err != nil {
		_ = srv.Close()
		if errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("app: in-flight requests did not finish within %s; closed them", a.cfg.HTTP.ShutdownGrace)
		}
		return fmt.Errorf("app: shutdown: %w", err)
	}
	a.log.Info("stopped")
	return nil
}
