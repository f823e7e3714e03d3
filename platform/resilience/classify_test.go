package resilience

import (
	"context"
	"database/sql/driver"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gorm.io/gorm"
)

func TestClassify(t *testing.T) {
	pg := func(code string) error { return &pgconn.PgError{Code: code} }
	wrap := func(err error) error { return fmt.Errorf("users: create: %w", err) }
	cases := []struct {
		name string
		err  error
		want Class
	}{
		{"nil", nil, ClassNone},
		{"serialization failure", pg("40001"), ClassContention},
		{"deadlock", wrap(pg("40P01")), ClassContention},
		{"lock not available", pg("55P03"), ClassContention},
		{"backend terminated", wrap(pg("57P01")), ClassConnectionLost},
		{"crash of another backend", pg("57P02"), ClassConnectionLost},
		{"idle session timeout", pg("57P05"), ClassConnectionLost},
		{"starting up or shutting down", pg("57P03"), ClassUnavailable},
		{"too many connections", pg("53300"), ClassUnavailable},
		{"read-only transaction (a standby, or a primary demoted by a failover)", pg("25006"), ClassUnavailable},
		{"connection exception class", pg("08006"), ClassUnavailable},
		{"statement timeout", pg("57014"), ClassTimeout},
		{"unique violation through gorm translation", fmt.Errorf("%w: %w", gorm.ErrDuplicatedKey, pg("23505")), ClassClient},
		{"record not found", wrap(gorm.ErrRecordNotFound), ClassClient},
		{"syntax error is a bug", pg("42601"), ClassOther},
		{"invalid byte sequence", pg("22021"), ClassClient},
		{"numeric out of range", wrap(pg("22003")), ClassClient},
		{"division by zero is a bug", pg("22012"), ClassOther},
		{"caller cancelled", wrap(context.Canceled), ClassCallerGone},
		{"deadline", wrap(context.DeadlineExceeded), ClassTimeout},
		{"unexpected EOF", wrap(io.ErrUnexpectedEOF), ClassConnectionLost},
		{"conn closed", wrap(pgconn.ErrConnClosed), ClassConnectionLost},
		{"bad conn", driver.ErrBadConn, ClassConnectionLost},
		{"reset", &net.OpError{Op: "read", Err: syscall.ECONNRESET}, ClassConnectionLost},
		{"broken pipe", &net.OpError{Op: "write", Err: syscall.EPIPE}, ClassConnectionLost},
		{"read deadline", &net.OpError{Op: "read", Err: os.ErrDeadlineExceeded}, ClassTimeout},
		{"dial refused", &net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}, ClassUnavailable},
		{"plain error", fmt.Errorf("boom"), ClassOther},
		{"lost commit", fmt.Errorf("%w: %w", ErrOutcomeUnknown, pgconn.ErrConnClosed), ClassOutcomeUnknown},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, Classify(tc.err), "Classify(%v)", tc.err)
		})
	}
}

// What pgx returns when it cannot open a connection is a *pgconn.ConnectError around the
// cause; whatever the cause, the database cannot be reached — unless time ran out.
func TestClassifyConnectErrors(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close()) // nothing listens there now: connecting is refused

	_, err = pgconn.Connect(context.Background(), "postgres://x@"+addr+"/x?sslmode=disable&connect_timeout=5")
	var connectErr *pgconn.ConnectError
	require.ErrorAs(t, err, &connectErr)
	assert.Equal(t, ClassUnavailable, Classify(fmt.Errorf("users: get: %w", err)), "refused: %v", err)

	// A server that resets the connection during startup (a proxy refusing work, a server
	// going down) is a failed connect too, not a lost connection.
	resetting, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer resetting.Close()
	go func() {
		for {
			c, err := resetting.Accept()
			if err != nil {
				return
			}
			_ = c.(*net.TCPConn).SetLinger(0)
			_ = c.Close()
		}
	}()
	_, err = pgconn.Connect(context.Background(), "postgres://x@"+resetting.Addr().String()+"/x?sslmode=disable&connect_timeout=5")
	require.ErrorAs(t, err, &connectErr)
	assert.Equal(t, ClassUnavailable, Classify(err), "reset during startup: %v", err)

	ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
	defer cancel()
	<-ctx.Done()
	_, err = pgconn.Connect(ctx, "postgres://x@"+resetting.Addr().String()+"/x?sslmode=disable")
	require.Error(t, err)
	assert.Equal(t, ClassTimeout, Classify(err), "connect past the deadline: %v", err)
}
