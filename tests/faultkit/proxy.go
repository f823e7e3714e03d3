package faultkit

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Proxy forwards TCP connections from its own address to a PostgreSQL server and injects
// faults on command. It understands just enough of the PostgreSQL wire protocol to notice a
// COMMIT sent with the simple query protocol (how pgx commits).
type Proxy struct {
	ln     net.Listener
	target string

	latency    atomic.Int64 // nanoseconds added before forwarding each chunk
	refuse     atomic.Bool  // reset new connections as soon as their first message arrives
	blackhole  atomic.Bool  // stop forwarding in both directions (connections hang)
	closed     atomic.Bool
	cutCommits atomic.Int32 // reset the next N connections that send COMMIT, after it commits
	accepted   atomic.Int64
	cancels    atomic.Int64 // accepted connections that carried a CancelRequest
	committed  atomic.Int64 // COMMITs cut after the server answered them

	mu    sync.Mutex
	conns map[*link]struct{}
}

// link is one proxied connection.
type link struct {
	client, server net.Conn
	closeOnce      sync.Once
}

func (l *link) reset() {
	l.closeOnce.Do(func() {
		if tc, ok := l.client.(*net.TCPConn); ok {
			_ = tc.SetLinger(0) // RST, not FIN
		}
		_ = l.client.Close()
		_ = l.server.Close()
	})
}

// NewProxy listens on 127.0.0.1 on a free port and forwards to target (host:port).
func NewProxy(target string) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &Proxy{ln: ln, target: target, conns: map[*link]struct{}{}}
	go p.accept()
	return p, nil
}

// Addr is the proxy's host:port; point the service at it.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Port is the proxy's port.
func (p *Proxy) Port() int { return p.ln.Addr().(*net.TCPAddr).Port }

// Close stops the proxy and resets every connection.
func (p *Proxy) Close() error {
	p.closed.Store(true) // also ends the forwarding goroutines a black hole holds
	err := p.ln.Close()
	p.ResetAll()
	return err
}

// SetLatency delays every chunk of data in both directions by d (0 removes the delay).
func (p *Proxy) SetLatency(d time.Duration) { p.latency.Store(int64(d)) }

// Refuse makes the proxy reset new connections as soon as their first message has arrived (as
// a server that is going down); connections already open are left alone (ResetAll ends them).
func (p *Proxy) Refuse(on bool) { p.refuse.Store(on) }

// Blackhole stops forwarding: connections stay open but nothing arrives (a network partition).
func (p *Proxy) Blackhole(on bool) { p.blackhole.Store(on) }

// CutAfterCommit makes the proxy reset the next n connections that send COMMIT, right after
// the server has answered it: the transaction is committed, the client never learns it.
func (p *Proxy) CutAfterCommit(n int) { p.cutCommits.Store(int32(n)) }

// Accepted counts the connections the proxy has accepted, refused ones included. It also
// counts connections that only carry a CancelRequest (see Cancels): pgx opens one whenever a
// connection fails, even one that failed during its startup, so Accepted - Cancels is the
// number of attempts to open a session.
func (p *Proxy) Accepted() int64 { return p.accepted.Load() }

// Cancels counts the accepted connections whose first message was a CancelRequest, refused
// ones included.
func (p *Proxy) Cancels() int64 { return p.cancels.Load() }

// CutCommits counts the COMMITs whose answer the proxy swallowed.
func (p *Proxy) CutCommits() int64 { return p.committed.Load() }

// ResetAll resets every open connection with an RST.
func (p *Proxy) ResetAll() {
	p.mu.Lock()
	links := make([]*link, 0, len(p.conns))
	for l := range p.conns {
		links = append(links, l)
	}
	p.mu.Unlock()
	for _, l := range links {
		l.reset()
	}
}

func (p *Proxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.accepted.Add(1)
		if p.refuse.Load() {
			go p.refuseConn(c)
			continue
		}
		go p.serve(c)
	}
}

// refuseConn resets c once its first message has arrived (or after a second): to the client
// that is a server closing the connection at once, and the proxy learns whether it was a
// CancelRequest.
func (p *Proxy) refuseConn(c net.Conn) {
	_ = c.SetReadDeadline(time.Now().Add(time.Second))
	var head [8]byte
	if _, err := io.ReadFull(c, head[:]); err == nil && isCancelRequest(head[:]) {
		p.cancels.Add(1)
	}
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = c.Close()
}

// cancelRequestCode is the protocol code of a CancelRequest (1234 << 16 | 5678), which comes
// as an untyped message instead of a startup message: length, code, pid, secret key. The key
// is 4 bytes before protocol 3.2 and up to 256 since; pgx sends an empty one when the
// connection failed before the server gave it a key.
const cancelRequestCode = 80877102

func isCancelRequest(head []byte) bool {
	if len(head) < 8 || binary.BigEndian.Uint32(head[4:]) != cancelRequestCode {
		return false
	}
	n := binary.BigEndian.Uint32(head)
	return n >= 12 && n <= 12+256
}

func (p *Proxy) serve(client net.Conn) {
	server, err := net.DialTimeout("tcp", p.target, 5*time.Second)
	if err != nil {
		_ = client.Close()
		return
	}
	l := &link{client: client, server: server}
	p.mu.Lock()
	p.conns[l] = struct{}{}
	p.mu.Unlock()
	defer func() {
		l.reset()
		p.mu.Lock()
		delete(p.conns, l)
		p.mu.Unlock()
	}()

	var commitSent atomic.Bool
	done := make(chan struct{}, 2)
	go func() { // client → server, watching for COMMIT
		p.pipe(server, client, func(chunk []byte, w *frames) {
			if !w.started && len(w.pending) == 0 && isCancelRequest(chunk) {
				p.cancels.Add(1)
			}
			if w.sawCommit(chunk) && p.cutCommits.Load() > 0 {
				commitSent.Store(true)
			}
		})
		done <- struct{}{}
	}()
	go func() { // server → client; swallow the answer to a watched COMMIT and reset
		p.pipe(client, server, func(chunk []byte, _ *frames) {
			if commitSent.Swap(false) && p.cutCommits.Add(-1) >= 0 {
				p.committed.Add(1)
				l.reset()
			}
		})
		done <- struct{}{}
	}()
	<-done
}

// pipe copies src to dst chunk by chunk, applying latency and black-holing; inspect sees
// every chunk before it is forwarded and may reset the link.
func (p *Proxy) pipe(dst, src net.Conn, inspect func([]byte, *frames)) {
	buf := make([]byte, 32*1024)
	f := &frames{}
	for {
		n, err := src.Read(buf)
		if n > 0 {
			for p.blackhole.Load() && !p.closed.Load() {
				time.Sleep(5 * time.Millisecond)
			}
			if d := time.Duration(p.latency.Load()); d > 0 {
				time.Sleep(d)
			}
			inspect(buf[:n], f)
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				return
			}
			return
		}
	}
}

// frames follows the client's message stream: the untyped startup message first, then
// typed messages (1-byte type, 4-byte big-endian length including itself, payload).
type frames struct {
	started bool
	pending []byte
}

// sawCommit feeds chunk and reports whether it completed a simple-query COMMIT.
func (f *frames) sawCommit(chunk []byte) bool {
	f.pending = append(f.pending, chunk...)
	found := false
	for {
		if !f.started {
			if len(f.pending) < 4 {
				return found
			}
			n := int(binary.BigEndian.Uint32(f.pending))
			if len(f.pending) < n {
				return found
			}
			f.pending, f.started = f.pending[n:], true
			continue
		}
		if len(f.pending) < 5 {
			return found
		}
		n := int(binary.BigEndian.Uint32(f.pending[1:5])) + 1
		if len(f.pending) < n {
			return found
		}
		if f.pending[0] == 'Q' {
			sql := bytes.ToLower(bytes.TrimRight(f.pending[5:n], "\x00 ;\n"))
			if bytes.Equal(sql, []byte("commit")) {
				found = true
			}
		}
		f.pending = f.pending[n:]
	}
}
