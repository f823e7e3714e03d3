package perfkit

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strconv"

	"usersvc/app"
	"usersvc/modules/users"
)

// Token is the API token every perf server accepts.
const Token = "perf-token-0123456789abcdef"

// ApplicationName marks the run's app connections in pg_stat_activity.
const ApplicationName = "usersvc-perf"

// CursorSecret signs page cursors in every perf app, so a suite can build a cursor for a
// deep page itself (see users' store_list.go for the scope a cursor is bound to).
const CursorSecret = "perf-cursor-secret-0123456789"

// AppEnv is the configuration (as environment entries) of every app of the run, in-process
// or the bin/server process: dbURL, a pool of poolSize, quiet logs. extra entries come last
// and win (e.g. "USERSVC_RESILIENCE__RETRY__MAX_ATTEMPTS=8").
func AppEnv(dbURL string, poolSize int, extra ...string) []string {
	n := strconv.Itoa(poolSize)
	return append([]string{
		"DATABASE_URL=" + dbURL,
		"API_TOKENS=perf:" + Token,
		// The limiter runs (its cost is measured) but never refuses: the suites push one
		// token far past the default 1,000 requests a second.
		"USERSVC_RATE_LIMIT__PER_TOKEN=1e9", "USERSVC_RATE_LIMIT__TOKEN_BURST=1000000000",
		"USERSVC_DATABASE__MAX_OPEN_CONNS=" + n,
		"USERSVC_DATABASE__MAX_IDLE_CONNS=" + n,
		"USERSVC_DATABASE__APPLICATION_NAME=" + ApplicationName,
		"USERSVC_PAGINATION__CURSOR_SECRET=" + CursorSecret,
		"USERSVC_LOG__LEVEL=error",
		"USERSVC_MIGRATIONS__AUTO=false",
	}, extra...)
}

// OpenApp wires the real service in-process over dbURL (already migrated), configured by
// AppEnv. Close it when done.
func OpenApp(ctx context.Context, dbURL string, poolSize int, extra ...string) (*app.App, error) {
	cfg, err := app.LoadConfig("", AppEnv(dbURL, poolSize, extra...))
	if err != nil {
		return nil, fmt.Errorf("perf: config: %w", err)
	}
	return app.New(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
}

// UsersRepository is the users module's repository inside a, with the Runner's retry,
// breaker and deadline layers: what the HTTP handlers call.
func UsersRepository(a *app.App) (users.Repository, error) {
	for _, m := range a.Modules() {
		if um, ok := m.(*users.Module); ok {
			return um.Repository(), nil
		}
	}
	return nil, fmt.Errorf("perf: the app has no users module")
}

// OpenRepository is OpenApp and UsersRepository in one: the app (close it when done) and its
// users repository.
func OpenRepository(ctx context.Context, dbURL string, poolSize int, extra ...string) (*app.App, users.Repository, error) {
	a, err := OpenApp(ctx, dbURL, poolSize, extra...)
	if err != nil {
		return nil, nil, err
	}
	repo, err := UsersRepository(a)
	if err != nil {
		_ = a.Close()
		return nil, nil, err
	}
	return a, repo, nil
}

// Migrate applies every migration to dbURL.
func Migrate(ctx context.Context, dbURL string) error {
	a, err := OpenApp(ctx, dbURL, 2)
	if err != nil {
		return err
	}
	defer a.Close()
	if _, err := a.Migrator().Up(ctx, ""); err != nil {
		return fmt.Errorf("perf: migrate: %w", err)
	}
	return nil
}
