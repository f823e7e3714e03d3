package resilience

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"usersvc/tests/performance/perfkit"
)

// apiClient drives the service over HTTP with unique usernames (a per-run prefix and a
// counter), counting every request and every status other than the one expected.
type apiClient struct {
	base   string
	http   *http.Client
	prefix string
	taken  string       // a live user's username, for renames that must conflict
	n      atomic.Int64 // usernames handed out

	ops        atomic.Int64 // requests sent
	unexpected atomic.Int64
	mu         sync.Mutex
	firstOdd   string // the first unexpected answer, for the notes
}

func newAPIClient(base, prefix string) *apiClient {
	tr := &http.Transport{MaxIdleConns: 64, MaxIdleConnsPerHost: 64, IdleConnTimeout: 30 * time.Second}
	return &apiClient{base: base, prefix: prefix, http: &http.Client{Transport: tr, Timeout: 30 * time.Second}}
}

func (c *apiClient) close() { c.http.CloseIdleConnections() }

func (c *apiClient) username() string {
	return fmt.Sprintf("%s%d", c.prefix, c.n.Add(1))
}

type userBody struct {
	ID       string `json:"id"`
	Username string `json:"username"`
	Version  int    `json:"version"`
}

// call sends one request and checks its status; out, when given, receives the JSON body.
func (c *apiClient) call(ctx context.Context, method, path string, body any, want int, out any, header ...string) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+perfkit.Token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	c.ops.Add(1)
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != want {
		c.unexpected.Add(1)
		c.mu.Lock()
		if c.firstOdd == "" {
			c.firstOdd = fmt.Sprintf("%s %s: %d (want %d) %.200s", method, path, resp.StatusCode, want, data)
		}
		c.mu.Unlock()
		return nil
	}
	if out != nil {
		return json.Unmarshal(data, out)
	}
	return nil
}

func registration(name string) map[string]string {
	return map[string]string{"username": name, "email": name + "@perf.example.com", "full_name": "Leak " + name}
}

func ifMatch(v int) []string { return []string{"If-Match", strconv.Quote(strconv.Itoa(v))} }

// step is one request of a session; it reports false when the session cannot go on.
type step func(ctx context.Context, s *session) (bool, error)

// session is one user's life through the API.
type session struct {
	c    *apiClient
	name string
	u    userBody
}

// lifeSteps is the ordinary mix: create, get, update, list, delete, restore, get.
var lifeSteps = []step{
	func(ctx context.Context, s *session) (bool, error) {
		s.name = s.c.username()
		err := s.c.call(ctx, http.MethodPost, "/api/v1/users", registration(s.name), http.StatusCreated, &s.u)
		return s.u.ID != "", err
	},
	func(ctx context.Context, s *session) (bool, error) {
		return true, s.c.call(ctx, http.MethodGet, "/api/v1/users/"+s.u.ID, nil, http.StatusOK, nil)
	},
	func(ctx context.Context, s *session) (bool, error) {
		err := s.c.call(ctx, http.MethodPatch, "/api/v1/users/"+s.u.ID, map[string]string{"full_name": "Updated " + s.name},
			http.StatusOK, &s.u, ifMatch(s.u.Version)...)
		return true, err
	},
	func(ctx context.Context, s *session) (bool, error) {
		return true, s.c.call(ctx, http.MethodGet, "/api/v1/users?limit=10&q="+s.name, nil, http.StatusOK, nil)
	},
	func(ctx context.Context, s *session) (bool, error) {
		return true, s.c.call(ctx, http.MethodDelete, "/api/v1/users/"+s.u.ID, nil, http.StatusNoContent, nil)
	},
	func(ctx context.Context, s *session) (bool, error) {
		return true, s.c.call(ctx, http.MethodPost, "/api/v1/users/"+s.u.ID+"/restore", nil, http.StatusOK, &s.u)
	},
	func(ctx context.Context, s *session) (bool, error) {
		return true, s.c.call(ctx, http.MethodGet, "/api/v1/users/"+s.u.ID, nil, http.StatusOK, nil)
	},
}

// errorSteps fail inside the transaction on purpose (each rolls it back): a duplicate
// username (409, unique violation at INSERT), a stale If-Match (412, after FOR UPDATE), a
// rename onto a taken username (409, unique violation at UPDATE), a second delete (404).
var errorSteps = []step{
	lifeSteps[0],
	func(ctx context.Context, s *session) (bool, error) {
		return true, s.c.call(ctx, http.MethodPost, "/api/v1/users", registration(s.name), http.StatusConflict, nil)
	},
	func(ctx context.Context, s *session) (bool, error) {
		return true, s.c.call(ctx, http.MethodPatch, "/api/v1/users/"+s.u.ID, map[string]string{"full_name": "Stale"},
			http.StatusPreconditionFailed, nil, ifMatch(s.u.Version+7)...)
	},
	func(ctx context.Context, s *session) (bool, error) {
		return true, s.c.call(ctx, http.MethodPatch, "/api/v1/users/"+s.u.ID, map[string]string{"username": s.c.taken},
			http.StatusConflict, nil)
	},
	lifeSteps[4],
	func(ctx context.Context, s *session) (bool, error) {
		return true, s.c.call(ctx, http.MethodDelete, "/api/v1/users/"+s.u.ID, nil, http.StatusNotFound, nil)
	},
}

// drive runs sessions of steps on workers goroutines until ops requests have been sent
// (a session may be cut short by the count).
func (c *apiClient) drive(ctx context.Context, workers, ops int, steps []step) error {
	var budget atomic.Int64
	budget.Store(int64(ops))
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				s := &session{c: c}
				for _, st := range steps {
					if budget.Add(-1) < 0 {
						return
					}
					ok, err := st(ctx, s)
					if err != nil {
						errs <- err
						return
					}
					if !ok {
						break
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	return <-errs
}
