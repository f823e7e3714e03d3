package db

import (
	"context"
	"encoding/binary"
	"net"

	"github.com/jackc/pgx/v5/pgconn"
)

// cancelRequestCode is the protocol code that opens a CancelRequest (1234 << 16 | 5678).
const cancelRequestCode = 80877102

// withoutCancelRequests wraps dial for a transaction pooler: a connection whose first message
// is a CancelRequest is closed without sending it.
//
// pgx sends one on a second connection whenever it gives up a connection with a statement in
// flight (a request cut off by its deadline, a shutdown). PgBouncer 1.18, Debian's, can crash
// — "FATAL … disconnect_client(): bad client state: 0", pgbouncer issues 801 and 904, fixed in
// 1.19–1.20 — when the sender of a CancelRequest goes away before the cancel is done, as an
// exiting instance's does; the crash ends every instance's connections. Without the cancel,
// the pooler closes the server connection of the client that went away (PostgreSQL then
// ends the statement), and the SET LOCAL statement_timeout bounds it meanwhile.
func withoutCancelRequests(dial pgconn.DialFunc) pgconn.DialFunc {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return &cancelGuard{Conn: conn}, nil
	}
}

// cancelGuard is a connection that swallows a CancelRequest as its first message.
type cancelGuard struct {
	net.Conn
	wrote bool // pgx writes a connection from one goroutine at a time
}

func (c *cancelGuard) Write(b []byte) (int, error) {
	if !c.wrote {
		c.wrote = true
		if len(b) >= 8 && binary.BigEndian.Uint32(b[4:8]) == cancelRequestCode {
			_ = c.Conn.Close() // pgx then reads a closed connection: the cancel "failed", ignored
			return len(b), nil
		}
	}
	return c.Conn.Write(b)
}
