package load

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"usersvc/tests/performance/perfkit"
)

// readyTimeout bounds how long a started server may take to answer /readyz with 200.
const readyTimeout = 30 * time.Second

// stopTimeout bounds a graceful stop; past it the process is killed. It exceeds the
// default http.shutdown_grace (15s).
const stopTimeout = 20 * time.Second

// Server is one bin/server process on a free local port.
type Server struct {
	name    string // how errors name it (suite 12: its configuration); "" for suite 11's one server
	base    string // http://127.0.0.1:port
	metrics string // where /metrics (and with profiled, /debug/pprof/) is served: base, or a listener of its own
	cmd     *exec.Cmd
	stderr  *tail
	exited  chan struct{} // closed when the process has exited
	err     error         // the process's exit error, set before exited is closed
}

// Base is where the server answers: http://127.0.0.1:port.
func (s *Server) Base() string { return s.base }

// PID is the server process's id, 0 when it is not running.
func (s *Server) PID() int {
	if s == nil || s.cmd == nil || s.cmd.Process == nil {
		return 0
	}
	return s.cmd.Process.Pid
}

// metricsOnFreePort, among a server's extra settings, serves /metrics on a listener of its
// own, on a free port chosen at each start.
const metricsOnFreePort = "USERSVC_METRICS__ADDR=127.0.0.1:free"

// profiled are the extra settings of a server whose Go profiler is on: /debug/pprof/ (and
// /metrics) on server.metrics, never on the API listener.
var profiled = []string{metricsOnFreePort, "USERSVC_METRICS__PPROF=true"}

// startServer runs env.ServerBin serve over the run's database with a pool of poolSize and
// the extra configuration entries (USERSVC_…=…, or metricsOnFreePort), and waits until
// /readyz answers 200.
func startServer(ctx context.Context, env *perfkit.Env, poolSize int, extra ...string) (*Server, error) {
	return StartServer(ctx, env, "", env.DBURL, poolSize, extra...)
}

// StartServer runs env.ServerBin serve over dbURL with a pool of poolSize and the extra
// configuration entries (USERSVC_…=…, or metricsOnFreePort), and waits until /readyz
// answers 200. name, when not "", names the server in errors. Stop it when done.
func StartServer(ctx context.Context, env *perfkit.Env, name, dbURL string, poolSize int, extra ...string) (*Server, error) {
	if env.ServerBin == "" {
		return nil, errors.New("load: env.ServerBin is empty: build the service binary first (make build)")
	}
	var lastErr error
	for range 3 { // a free port can be taken between choosing and binding it
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		settings := slices.Clone(extra)
		for i, kv := range settings {
			if kv == metricsOnFreePort {
				p, err := freePort()
				if err != nil {
					return nil, err
				}
				settings[i] = metricsAddrKey + "127.0.0.1:" + p
			}
		}
		s, err := launch(ctx, env, name, dbURL, poolSize, port, settings)
		if err == nil {
			return s, nil
		}
		lastErr = err
		if !strings.Contains(err.Error(), "address already in use") {
			break
		}
	}
	return nil, lastErr
}

const metricsAddrKey = "USERSVC_METRICS__ADDR="

func launch(ctx context.Context, env *perfkit.Env, name, dbURL string, poolSize int, port string, extra []string) (*Server, error) {
	addr := "127.0.0.1:" + port
	cmd := exec.Command(env.ServerBin, "serve")
	cmd.Env = append(inheritedEnv(), perfkit.AppEnv(dbURL, poolSize, append([]string{"HTTP_ADDR=" + addr}, extra...)...)...)
	s := &Server{name: name, base: "http://" + addr, metrics: "http://" + addr, cmd: cmd, stderr: &tail{max: 8 << 10}, exited: make(chan struct{})}
	for _, kv := range extra {
		if a, ok := strings.CutPrefix(kv, metricsAddrKey); ok && a != "" {
			s.metrics = "http://" + a
		}
	}
	cmd.Stderr = s.stderr
	cmd.Stdout = s.stderr
	dieWithParent(cmd)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("load: start %s: %w", env.ServerBin, err)
	}
	go func() {
		s.err = cmd.Wait()
		close(s.exited)
	}()
	if err := s.waitReady(ctx); err != nil {
		_ = s.Stop()
		return nil, err
	}
	return s, nil
}

// inheritedEnv is this process's environment without what configures the service, so the
// server sees only perfkit.AppEnv's settings and ours.
func inheritedEnv() []string {
	var out []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch {
		case k == "DATABASE_URL", k == "HTTP_ADDR", k == "API_TOKENS", strings.HasPrefix(k, "USERSVC_"):
			continue
		}
		out = append(out, kv)
	}
	return out
}

// label is how errors name the server.
func (s *Server) label() string {
	if s.name == "" {
		return "the server"
	}
	return "the server (" + s.name + ")"
}

func (s *Server) waitReady(ctx context.Context) error {
	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}
	deadline := time.Now().Add(readyTimeout)
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.base+"/readyz", nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-s.exited:
			return fmt.Errorf("load: %s exited before it was ready (%v); its output ends with:\n%s", s.label(), s.err, s.stderr)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("load: %s on %s was not ready within %s; its output ends with:\n%s", s.label(), s.base, readyTimeout, s.stderr)
		}
	}
}

// Stop sends SIGTERM and waits for the process to exit (killing it after stopTimeout). An
// exit status other than 0 is an error carrying the server's last output.
func (s *Server) Stop() error {
	select {
	case <-s.exited:
	default:
		_ = s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-s.exited:
		case <-time.After(stopTimeout):
			_ = s.cmd.Process.Kill()
			<-s.exited
			return fmt.Errorf("load: %s did not stop within %s of SIGTERM; killed it; its output ends with:\n%s", s.label(), stopTimeout, s.stderr)
		}
	}
	if s.err != nil {
		return fmt.Errorf("load: %s exited with %v; its output ends with:\n%s", s.label(), s.err, s.stderr)
	}
	return nil
}

func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("load: find a free port: %w", err)
	}
	defer ln.Close()
	_, port, err := net.SplitHostPort(ln.Addr().String())
	return port, err
}

// tail keeps the last max bytes written to it.
type tail struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(p), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.buf) == 0 {
		return "(nothing)"
	}
	return string(t.buf)
}
