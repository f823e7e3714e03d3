package db

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
)

// pgReadOnly is SQLSTATE read_only_sql_transaction.
const pgReadOnly = "25006"

// idlePingAfter is pgx's own rule, kept: a connection idle longer than this is pinged before
// reuse, whatever else happened (a server or proxy may close idle connections).
const idlePingAfter = time.Second

// lossWatch lets the pool ride through lost connections.
//
// A failover, a restarted PgBouncer or proxy, an admin's pg_terminate_backend sweep or an
// idle-session timeout ends many pooled connections at once. database/sql cannot tell: it
// hands them out one by one (pgx pings a reused connection only when it was idle over a
// second), so a request and each of its retries can draw another dead one.
//
// lossWatch notes when an established connection was found broken — a FATAL error from its
// server, or a failed read or write on its socket — and from then on has pgx ping, before
// reuse, every connection idle since before that moment. A dead one fails the ping and
// database/sql replaces it (with a new connection after two dead ones), so the retry after a
// lost connection is given a live one. A connection used since the loss is not pinged; with
// no loss seen the check is one atomic load.
type lossWatch struct {
	epoch  time.Time    // origin of last, read on the monotonic clock
	last   atomic.Int64 // when the latest loss was seen, in ns since epoch; 0: never
	onLoss func()       // told of every loss (metrics); nil: nobody
}

func newLossWatch(onLoss func()) *lossWatch {
	return &lossWatch{epoch: time.Now(), onLoss: onLoss}
}

// lost records that an established connection was found broken now.
func (w *lossWatch) lost() {
	w.last.Store(max(int64(time.Since(w.epoch)), 1))
	if w.onLoss != nil {
		w.onLoss()
	}
}

// shouldPing is stdlib's OptionShouldPing: ping a connection idle for over a second, or one
// idle since before the latest loss.
func (w *lossWatch) shouldPing(_ context.Context, p stdlib.ShouldPingParams) bool {
	if p.IdleDuration > idlePingAfter {
		return true
	}
	last := w.last.Load()
	if last == 0 {
		return false
	}
	usedAt := int64(time.Since(w.epoch) - p.IdleDuration)
	return usedAt <= last
}

// onPgError is pgconn's OnPgError: like pgx's default it closes the connection on a FATAL
// error, and it records a loss if the session had been established (a refused login is a
// failed connect, which the caller sees as such). It also closes a connection that answered
// 25006 (read-only transaction): it reaches a server that cannot take writes (a standby, a
// demoted primary), and reused it would fail every write; a new connection finds the primary
// (target_session_attrs=read-write in a multi-host URL).
func (w *lossWatch) onPgError(c *pgconn.PgConn, pgErr *pgconn.PgError) bool {
	if pgErr.Code == pgReadOnly {
		return false
	}
	if !strings.EqualFold(pgErr.SeverityUnlocalized, "FATAL") && !strings.EqualFold(pgErr.Severity, "FATAL") {
		return true
	}
	if wc := watched(c.Conn()); wc != nil {
		wc.broke()
	}
	return false
}

// dial wraps pgx's dialer so that each connection's socket can report its failures; they are
// ignored until arm marks the session established (cancel requests and failed connects are
// dialed through here too).
func (w *lossWatch) dial(dial pgconn.DialFunc) pgconn.DialFunc {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return &watchedConn{Conn: conn, watch: w}, nil
	}
}

// arm is called once a session is established (stdlib's AfterConnect).
func (w *lossWatch) arm(conn *pgx.Conn) {
	if wc := watched(conn.PgConn().Conn()); wc != nil {
		wc.armed.Store(true)
	}
}

// watched finds the watchedConn under a session's net.Conn (under TLS, if any).
func watched(nc net.Conn) *watchedConn {
	if tc, ok := nc.(*tls.Conn); ok {
		nc = tc.NetConn()
	}
	wc, _ := nc.(*watchedConn)
	return wc
}

// watchedConn is a connection's socket; once armed, its first failure records a loss.
type watchedConn struct {
	net.Conn
	watch *lossWatch
	armed atomic.Bool
}

func (c *watchedConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if err != nil {
		c.failedWith(err)
	}
	return n, err
}

func (c *watchedConn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	if err != nil {
		c.failedWith(err)
	}
	return n, err
}

// failedWith records a loss for a read or write that failed, unless pgx did it.
func (c *watchedConn) failedWith(err error) {
	if !interrupted(err) {
		c.broke()
	}
}

// broke records a loss, once per connection and only for an established session.
func (c *watchedConn) broke() {
	if c.armed.CompareAndSwap(true, false) {
		c.watch.lost()
	}
}

// interrupted tells pgx's own doing from a broken socket: a deadline it set to interrupt a
// read for a cancelled context, or a connection it closed itself.
func interrupted(err error) bool {
	return errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, net.ErrClosed)
}
