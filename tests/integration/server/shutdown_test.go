package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"usersvc/tests/testdb"
)

type patchResult struct {
	resp *response
	err  error
}

// heldPatch is a PATCH the test keeps in flight inside the server: the test's own
// transaction holds the user's row FOR UPDATE, so the server's UPDATE waits for it.
type heldPatch struct {
	userID  string
	blocker pgx.Tx
	monitor *pgx.Conn // a second connection: pg_stat_activity is snapshotted per transaction
	result  chan patchResult
}

// holdPatch creates a user, locks its row and sends a PATCH that renames it, returning once
// the server's backend is seen waiting on the lock.
func holdPatch(t *testing.T, s *server, dbURL string) *heldPatch {
	t.Helper()
	r := s.do(t, http.MethodPost, "/api/v1/users", `{"username":"grace","email":"grace@example.com","full_name":"Before"}`, token)
	if r.status != http.StatusCreated {
		t.Fatalf("POST /api/v1/users: %d %s", r.status, r.body)
	}
	var u struct{ ID string }
	if err := json.Unmarshal(r.body, &u); err != nil || u.ID == "" {
		t.Fatalf("POST /api/v1/users: no id in %s (%v)", r.body, err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	h := &heldPatch{userID: u.ID, monitor: connect(t, dbURL), result: make(chan patchResult, 1)}
	blocker := connect(t, dbURL)
	tx, err := blocker.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	h.blocker = tx
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = tx.Rollback(ctx) // no-op after Commit
	})
	tag, err := tx.Exec(ctx, "SELECT 1 FROM users WHERE id = $1 FOR UPDATE", u.ID)
	if err != nil || tag.RowsAffected() != 1 {
		t.Fatalf("lock the user's row: %v (%d rows)", err, tag.RowsAffected())
	}

	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		resp, err := s.request(ctx, http.MethodPatch, "/api/v1/users/"+u.ID, `{"full_name":"After"}`, token)
		h.result <- patchResult{resp, err}
	}()

	var lastErr error
	err = eventually(ctx, 10*time.Millisecond, func() bool {
		n, err := serverBackends(ctx, h.monitor, true)
		lastErr = err
		return err == nil && n > 0
	})
	if err != nil {
		select {
		case r := <-h.result:
			t.Fatalf("the PATCH finished instead of waiting on the lock: %+v", r)
		default:
		}
		t.Fatalf("no server backend waiting on a lock: %v (last query error: %v)", err, lastErr)
	}
	return h
}

// requireRefusing waits until the server refuses new connections, and checks that the
// process and the held request are still there.
func requireRefusing(t *testing.T, s *server, h *heldPatch) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	err := eventually(ctx, 10*time.Millisecond, func() bool {
		c, err := (&net.Dialer{Timeout: 200 * time.Millisecond}).DialContext(ctx, "tcp", s.addr)
		if err != nil {
			return true
		}
		_ = c.Close()
		return false
	})
	if err != nil {
		t.Fatalf("still accepting connections on %s after SIGTERM: %v", s.addr, err)
	}
	if s.exited() {
		t.Fatalf("the server exited while a request was in flight")
	}
	select {
	case r := <-h.result:
		t.Fatalf("the held PATCH returned before its lock was released: %+v", r)
	default:
	}
}

func userFullName(t *testing.T, conn *pgx.Conn, id string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var name string
	if err := conn.QueryRow(ctx, "SELECT full_name FROM users WHERE id = $1", id).Scan(&name); err != nil {
		t.Fatal(err)
	}
	return name
}

// requireNoServerConnections waits until the server's connections are gone from the database
// (under `make test-pgbouncer`, from the pooler: its own server connections stay pooled).
func requireNoServerConnections(t *testing.T, monitor *pgx.Conn) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	n, lastErr := -1, error(nil)
	err := eventually(ctx, 20*time.Millisecond, func() bool {
		var err error
		defer func() { lastErr = err }()
		if addr := testdb.PoolerAddr(); addr != "" {
			n, err = testdb.PoolerClients(ctx, addr, monitor.Config().Database)
		} else {
			n, err = serverBackends(ctx, monitor, false)
		}
		return err == nil && n == 0
	})
	if err != nil {
		t.Fatalf("still %d connection(s) of the server (application_name %q): %v (last error: %v)", n, appName, err, lastErr)
	}
}

// TestGracefulShutdownFinishesInFlightRequest: on SIGTERM the server stops accepting, lets
// the in-flight PATCH finish and commit, closes its pool and exits 0 within the grace.
func TestGracefulShutdownFinishesInFlightRequest(t *testing.T) {
	t.Parallel()
	const grace = 10 * time.Second
	dbURL := newDatabase(t, "shutdown_graceful")
	s := serve(t, serverEnv(dbURL, "USERSVC_HTTP__SHUTDOWN_GRACE="+grace.String()))
	s.waitReady(t)
	h := holdPatch(t, s, dbURL)

	s.signal(t, syscall.SIGTERM)
	termAt := time.Now()
	requireRefusing(t, s, h)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := h.blocker.Commit(ctx); err != nil {
		t.Fatal(err)
	}

	select {
	case r := <-h.result:
		if r.err != nil {
			t.Fatalf("held PATCH: %v; want it to complete during the grace period", r.err)
		}
		if r.resp.status != http.StatusOK || !strings.Contains(string(r.resp.body), `"full_name":"After"`) {
			t.Fatalf("held PATCH: %d %s; want 200 with the new full_name", r.resp.status, r.resp.body)
		}
	case <-ctx.Done():
		t.Fatal("the held PATCH did not complete after its lock was released")
	}

	exitCtx, cancelExit := context.WithDeadline(context.Background(), termAt.Add(grace))
	defer cancelExit()
	code, err := s.wait(exitCtx)
	if err != nil {
		t.Fatalf("did not exit within the %s grace: %v", grace, err)
	}
	if code != 0 {
		t.Fatalf("exit status %d; want 0", code)
	}
	if got := userFullName(t, h.monitor, h.userID); got != "After" {
		t.Errorf("full_name in the database = %q; want the PATCH's %q", got, "After")
	}
	requireNoServerConnections(t, h.monitor)
}

// TestShutdownGraceExceeded: when an in-flight request outlives http.shutdown_grace the
// server closes it and exits 1 (app.Serve reports it as a failure) instead of hanging; the
// interrupted request's write is not committed.
func TestShutdownGraceExceeded(t *testing.T) {
	t.Parallel()
	const grace = time.Second
	dbURL := newDatabase(t, "shutdown_grace_exceeded")
	s := serve(t, serverEnv(dbURL, "USERSVC_HTTP__SHUTDOWN_GRACE="+grace.String()))
	s.waitReady(t)
	h := holdPatch(t, s, dbURL)

	s.signal(t, syscall.SIGTERM)
	termAt := time.Now()
	requireRefusing(t, s, h)

	ctx, cancel := context.WithTimeout(context.Background(), grace+10*time.Second)
	defer cancel()
	code, err := s.wait(ctx)
	if err != nil {
		t.Fatalf("hung past the grace period with the request still held: %v", err)
	}
	if waited := time.Since(termAt); waited < grace-100*time.Millisecond {
		t.Errorf("exited %s after SIGTERM; want it to wait the %s grace for the request", waited, grace)
	}
	if code != 1 {
		t.Errorf("exit status %d; want 1 (in-flight requests cut off)", code)
	}
	if stderr := s.stderr.String(); !strings.Contains(stderr, "server: app: in-flight requests did not finish within 1s") {
		t.Errorf("stderr does not report the cut-off requests:\n%s", stderr)
	}

	select {
	case r := <-h.result:
		if r.err == nil && r.resp.status == http.StatusOK {
			t.Errorf("the cut-off PATCH got 200: %s", r.resp.body)
		}
		var netErr net.Error
		if r.err != nil && errors.As(r.err, &netErr) && netErr.Timeout() {
			t.Errorf("the cut-off PATCH timed out on the client instead of seeing its connection closed: %v", r.err)
		}
	case <-ctx.Done():
		t.Fatal("the cut-off PATCH did not return after the server exited")
	}

	if err := h.blocker.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	requireNoServerConnections(t, h.monitor)
	if got := userFullName(t, h.monitor, h.userID); got != "Before" {
		t.Errorf("full_name = %q after the cut-off PATCH; want it unchanged (%q)", got, "Before")
	}
}
