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
	"strconv"
	"strings"
	"sync"
	"time"

	"usersvc/tests/performance/load"
	"usersvc/tests/performance/perfkit"
)

// service is one bin/server process on a free local port (load.Server), configured by
// perfkit.AppEnv over a database URL plus extra settings.
type service struct {
	*load.Server
	name     string // how the tables name this configuration
	replicas bool   // database.replicas is set: writes answer with a Consistency-Token
}

// startService runs env.ServerBin serve over dbURL and waits until /readyz answers 200.
func startService(ctx context.Context, env *perfkit.Env, name, dbURL string, extra ...string) (*service, error) {
	srv, err := load.StartServer(ctx, env, name, dbURL, env.PoolSize, extra...)
	if err != nil {
		return nil, err
	}
	s := &service{Server: srv, name: name}
	for _, kv := range extra {
		if strings.HasPrefix(kv, "USERSVC_DATABASE__REPLICAS=") {
			s.replicas = true
		}
	}
	return s, nil
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
	resp, body, err := q.do(ctx, http.MethodGet, s.Base()+"/api/v1/users/"+id, "")
	if err != nil {
		return fmt.Errorf("topology: %s: GET a user: %w", s.name, err)
	}
	if resp.StatusCode != http.StatusOK || !bytes.Contains(body, []byte(id)) {
		return fmt.Errorf("topology: %s: GET /users/%s answered %s: %.200s", s.name, id, resp.Status, body)
	}
	resp, body, err = q.do(ctx, http.MethodGet, s.Base()+"/api/v1/users?limit=25", "")
	if err != nil {
		return fmt.Errorf("topology: %s: GET the first page: %w", s.name, err)
	}
	if resp.StatusCode != http.StatusOK || !bytes.Contains(body, []byte(`"items":[{"id":"`)) {
		return fmt.Errorf("topology: %s: GET /users?limit=25 answered %s: %.200s", s.name, resp.Status, body)
	}
	name := fmt.Sprintf("%s_probe.%d", q.prefix, n)
	resp, body, err = q.do(ctx, http.MethodPost, s.Base()+"/api/v1/users",
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
					_, _, err = q.do(ctx, http.MethodPost, s.Base()+"/api/v1/users",
						fmt.Sprintf(`{"username":%q,"email":%q,"full_name":"Perf Warm"}`, name, name+"@example.com"))
				case 1:
					_, _, err = q.do(ctx, http.MethodGet, s.Base()+"/api/v1/users?limit=25", "")
				default:
					_, _, err = q.do(ctx, http.MethodGet, s.Base()+"/api/v1/users/"+perfkit.ID(q.data.LiveUser(rand.IntN(q.data.Users))).String(), "")
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
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.Base()+"/metrics", nil)
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
