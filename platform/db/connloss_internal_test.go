package db

import (
	"context"
	"crypto/tls"
	"net"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/stdlib"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Which reused connections are pinged: those idle over a second (pgx's own rule), and after
// a loss those idle since before it — not those used since.
func TestLossWatchPingsWhatWasIdleSinceTheLoss(t *testing.T) {
	w := newLossWatch(nil)
	ping := func(idle time.Duration) bool {
		return w.shouldPing(context.Background(), stdlib.ShouldPingParams{IdleDuration: idle})
	}
	assert.False(t, ping(10*time.Millisecond), "no loss seen: a connection used recently is not pinged")
	assert.True(t, ping(2*time.Second), "idle over a second: pinged, as pgx does")

	w.lost()
	lostAt := time.Now()
	assert.True(t, ping(time.Since(lostAt)+500*time.Millisecond), "idle since before the loss: pinged")
	time.Sleep(20 * time.Millisecond)
	assert.False(t, ping(time.Since(lostAt)-10*time.Millisecond), "used after the loss: not pinged")
	assert.True(t, ping(time.Since(lostAt)+500*time.Millisecond), "still idle since before the loss: pinged")
}

// A socket's failure is a loss once the session is up, and only once; pgx's own
// interruptions (a deadline for a cancelled context, a connection it closed) are not.
func TestWatchedConnReportsABrokenSocketOnce(t *testing.T) {
	losses := 0
	w := newLossWatch(func() { losses++ })
	client, server := net.Pipe()
	defer server.Close()
	wc := &watchedConn{Conn: client, watch: w}

	wc.failedWith(&net.OpError{Op: "read", Err: syscall.ECONNRESET})
	assert.Zero(t, losses, "not armed: a failed connect or a cancel request is not a lost session")

	wc.armed.Store(true)
	wc.failedWith(&net.OpError{Op: "read", Err: os.ErrDeadlineExceeded})
	wc.failedWith(net.ErrClosed)
	assert.Zero(t, losses, "pgx's own interruptions")

	wc.failedWith(&net.OpError{Op: "read", Err: syscall.ECONNRESET})
	wc.failedWith(&net.OpError{Op: "write", Err: syscall.EPIPE})
	assert.Equal(t, 1, losses, "one loss per connection")

	// Through the real methods: the peer goes away.
	wc2 := &watchedConn{Conn: server, watch: w}
	wc2.armed.Store(true)
	require.NoError(t, client.Close())
	_, err := wc2.Read(make([]byte, 1))
	require.Error(t, err)
	assert.Equal(t, 2, losses, "a read from a socket whose peer is gone")
}

// Under TLS the session's net.Conn is the *tls.Conn; the watched socket is beneath it.
func TestWatchedFindsTheSocketUnderTLS(t *testing.T) {
	client, server := net.Pipe()
	defer client.Close()
	defer server.Close()
	wc := &watchedConn{Conn: client, watch: newLossWatch(nil)}
	assert.Same(t, wc, watched(wc))
	assert.Same(t, wc, watched(tls.Client(wc, &tls.Config{InsecureSkipVerify: true})))
	assert.Nil(t, watched(client))
}

// What deciding costs on each reuse of a connection: with no loss ever seen (the healthy
// path) and after one.
func BenchmarkShouldPing(b *testing.B) {
	p := stdlib.ShouldPingParams{IdleDuration: 100 * time.Microsecond}
	for _, tc := range []struct {
		name string
		loss bool
	}{{"no-loss-seen", false}, {"after-a-loss", true}} {
		b.Run(tc.name, func(b *testing.B) {
			w := newLossWatch(nil)
			if tc.loss {
				w.lost()
			}
			ctx := context.Background()
			for b.Loop() {
				w.shouldPing(ctx, p)
			}
		})
	}
}
