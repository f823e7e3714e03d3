package topology

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"usersvc/tests/performance/perfkit"
)

const (
	readyTimeout = 30 * time.Second // until /readyz answers 200
	stopTimeout  = 20 * time.Second // past the default http.shutdown_grace (15 s): then killed
)

// service is one bin/server process on a free local port, configured by perfkit.AppEnv
// over dbURL plus extra settings.
type service struct {
	name     string // how the tables name this configuration
	base     string // http://127.0.0.1:port
	replicas bool   // database.replicas is set: writes answer with a Consistency-Token
	cmd      *exec.Cmd
	out      *tail
	exited   chan struct{}
	err      error // the exit error, set before exited is closed
}

func (s *service) pid() int {
	if s == nil || s.cmd == nil || s.cmd.Process == nil {
		return 0
	}
	return s.cmd.Process.Pid
}

// startService runs env.ServerBin serve over dbURL and waits until /readyz answers 200.
func startService(ctx context.Context, env *perfkit.Env, name, dbURL string, extra ...string) (*service, error) {
	var lastErr error
	for range 3 { // a free port can be taken between choosing and binding it
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		s, err := launch(ctx, env, name, dbURL, port, extra)
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

func launch(ctx context.Context, env *perfkit.Env, name, dbURL, port string, extra []string) (*service, error) {
	addr := "127.0.0.1:" + port
	cmd := exec.Command(env.ServerBin, "serve")
	cmd.Env = append(inheritedEnv(), perfkit.AppEnv(dbURL, env.PoolSize, append([]string{"HTTP_ADDR=" + addr}, extra...)...)...)
	s := &service{name: name, base: "http://" + addr, cmd: cmd, out: &tail{max: 8 << 10}, exited: make(chan struct{})}
	for _, kv := range extra {
		if strings.HasPrefix(kv, "USERSVC_DATABASE__REPLICAS=") {
			s.replicas = true
		}
	}
	cmd.Stdout, cmd.Stderr = s.out, s.out
	// An interrupted run leaves no server behind.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("topology: start %s: %w", env.ServerBin, err)
	}
	go func() {
		s.err = cmd.Wait()
		close(s.exited)
	}()
	if err := s.waitReady(ctx); err != nil {
		_ = s.stop()
		return nil, err
	}
	return s, nil
}

// inheritedEnv is this process's environment without what configures the service.
func inheritedEnv() []string {
	var out []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if k == "DATABASE_URL" || k == "HTTP_ADDR" || k == "API_TOKENS" || strings.HasPrefix(k, "USERSVC_") {
			continue
		}
		out = append(out, kv)
	}
	return out
}

func (s *service) waitReady(ctx context.Context) error {
	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}
	deadline := time.Now().Add(readyTimeout)
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.base+"/readyz", nil)
		if err != nil {
			return err
		}
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-s.exited:
			return fmt.Errorf("topology: the server (%s) exited before it was ready (%v); its output ends with:\n%s", s.name, s.err, s.out)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("topology: the server (%s) was not ready within %s; its output ends with:\n%s", s.name, readyTimeout, s.out)
		}
	}
}

// stop sends SIGTERM and waits for the exit (killing it after stopTimeout); an exit status
// other than 0 is an error.
func (s *service) stop() error {
	select {
	case <-s.exited:
	default:
		_ = s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-s.exited:
		case <-time.After(stopTimeout):
			_ = s.cmd.Process.Kill()
			<-s.exited
			return fmt.Errorf("topology: the server (%s) did not stop within %s of SIGTERM; killed it", s.name, stopTimeout)
		}
	}
	if s.err != nil {
		return fmt.Errorf("topology: the server (%s) exited with %v; its output ends with:\n%s", s.name, s.err, s.out)
	}
	return nil
}

// requests builds the suite's requests against one service, as the wrk script does.
type requests struct {
	data   perfkit.SeedInfo
	prefix string // usernames of registered users: <prefix>_…
	client *http.Client
}

func (q *requests) do(ctx context.Context, method, url, body string) (*http.Response, []byte, error) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return nil, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+perfkit.Token)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := q.client.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp, b, err
}

// probe sends each operation once to s and checks the answers, since wrk reads no bodies:
// a seeded user by id, the first page, a registration (with a Consistency-Token exactly when
// s has replicas).
func (q *requests) probe(ctx context.Context, s *service, n int) error {
	i := q.data.LiveUser(n)
	id := perfkit.ID(i).String()
	resp, body, err := q.do(ctx, http.MethodGet, s.base+"/api/v1/users/"+id, "")
	if err != nil {
		return fmt.Errorf("topology: %s: GET a user: %w", s.name, err)
	}
	if resp.StatusCode != http.StatusOK || !bytes.Contains(body, []byte(id)) {
		return fmt.Errorf("topology: %s: GET /users/%s answered %s: %.200s", s.name, id, resp.Status, body)
	}
	resp, body, err = q.do(ctx, http.MethodGet, s.base+"/api/v1/users?limit=25", "")
	if err != nil {
		return fmt.Errorf("topology: %s: GET the first page: %w", s.name, err)
	}
	if resp.StatusCode != http.StatusOK || !bytes.Contains(body, []byte(`"items":[{"id":"`)) {
		return fmt.Errorf("topology: %s: GET /users?limit=25 answered %s: %.200s", s.name, resp.Status, body)
	}
	name := fmt.Sprintf("%s_probe.%d", q.prefix, n)
	resp, body, err = q.do(ctx, http.MethodPost, s.base+"/api/v1/users",
		fmt.Sprintf(`{"username":%q,"email":%q,"full_name":"Perf Probe"}`, name, name+"@example.com"))
	if err != nil {
		return fmt.Errorf("topology: %s: POST a user: %w", s.name, err)
	}
	if resp.StatusCode != http.StatusCreated {
		return fmt.Errorf("topology: %s: POST /users answered %s: %.200s", s.name, resp.Status, body)
	}
	if tok := resp.Header.Get("Consistency-Token"); (tok != "") != s.replicas {
		return fmt.Errorf("topology: %s: POST /users answered with Consistency-Token %q; expected one exactly when replicas are configured (%v)",
			s.name, tok, s.replicas)
	}
	return nil
}

// warm sends reads and a few registrations from 2×pool clients for d, so every connection
// of every pool is open and has its statements prepared before a measurement.
func (q *requests) warm(ctx context.Context, s *service, clients int, d time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var wg sync.WaitGroup
	errs := make([]error, clients)
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := 0; ctx.Err() == nil; k++ {
				var err error
				switch k % 8 {
				case 0:
					name := fmt.Sprintf("%s_warm.%d.%d.%d", q.prefix, c, k, rand.Uint32())
					_, _, err = q.do(ctx, http.MethodPost, s.base+"/api/v1/users",
						fmt.Sprintf(`{"username":%q,"email":%q,"full_name":"Perf Warm"}`, name, name+"@example.com"))
				case 1:
					_, _, err = q.do(ctx, http.MethodGet, s.base+"/api/v1/users?limit=25", "")
				default:
					_, _, err = q.do(ctx, http.MethodGet, s.base+"/api/v1/users/"+perfkit.ID(q.data.LiveUser(rand.IntN(q.data.Users))).String(), "")
				}
				if err != nil && ctx.Err() == nil {
					errs[c] = err
					return
				}
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("topology: warming %s up: %w", s.name, err)
	}
	return nil
}

// readsServed reads usersvc_db_reads_served_total from the service's /metrics: the reads
// that could go to a replica, by the pool that served them ("primary" or a replica's name).
func (q *requests) readsServed(ctx context.Context, s *service) (primary, replica float64, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.base+"/metrics", nil)
	if err != nil {
		return 0, 0, err
	}
	resp, err := q.client.Do(req)
	if err != nil {
		return 0, 0, fmt.Errorf("topology: scrape /metrics: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, 0, fmt.Errorf("topology: scrape /metrics: %s", resp.Status)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "usersvc_db_reads_served_total{") {
			continue
		}
		labels, value, _ := strings.Cut(line, " ")
		v, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
		if err != nil {
			return 0, 0, fmt.Errorf("topology: unreadable metric line %q", line)
		}
		if strings.Contains(labels, `pool="primary"`) {
			primary += v
		} else {
			replica += v
		}
	}
	return primary, replica, sc.Err()
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
