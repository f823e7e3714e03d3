package restart_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"usersvc/tests/testapp"
)

// requestTimeout bounds every request a test sends: a request still running then is a hang.
const requestTimeout = 10 * time.Second

// outcomeUnknown is in the detail of a 503 whose write may or may not have committed.
const outcomeUnknown = "outcome unknown"

// heldBack is in the detail of a 503 the breaker gave without trying the database.
const heldBack = "requests are held back"

// result is what one request got, and how long it took.
type result struct {
	Method, Path string
	Status       int // 0: no answer at all (transport error or our timeout)
	Err          error
	Elapsed      time.Duration // as the client saw it
	ServerTime   time.Duration // as the server saw it (until it wrote the header)
	RetryAfter   string
	Detail       string // problem+json detail of an error answer
	Body         []byte
}

func (r result) String() string {
	return fmt.Sprintf("%s %s → %d in %s (server %s; Retry-After %q) %s %v", r.Method, r.Path, r.Status,
		r.Elapsed.Round(time.Millisecond), r.ServerTime.Round(10*time.Microsecond), r.RetryAfter, r.Detail, r.Err)
}

// send makes one request bounded by requestTimeout and never fails the test by itself, so it
// can run in any goroutine.
func send(s *testapp.Server, method, path string, body any, headers ...string) result {
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	start := time.Now()
	resp, err := s.Request(ctx, method, path, body, headers...)
	r := result{Method: method, Path: path, Err: err, Elapsed: time.Since(start)}
	if err != nil {
		return r
	}
	r.Status, r.Body, r.RetryAfter = resp.Status, resp.Body, resp.Header.Get("Retry-After")
	if ns, err := strconv.ParseInt(resp.Header.Get(serverTimeHeader), 10, 64); err == nil {
		r.ServerTime = time.Duration(ns)
	}
	if resp.Status >= 400 {
		var p struct {
			Detail string `json:"detail"`
		}
		_ = json.Unmarshal(resp.Body, &p)
		r.Detail = p.Detail
	}
	return r
}

// offences collects results that break one rule, so a test reports how many did and the
// first few instead of one assertion per request.
type offences struct {
	rule  string
	count int
	first []string
}

func (o *offences) add(r fmt.Stringer) {
	o.count++
	if len(o.first) < 5 {
		o.first = append(o.first, r.String())
	}
}

// check fails the test when anything broke the rule.
func (o *offences) check(t *testing.T, context ...any) {
	t.Helper()
	if o.count > 0 {
		t.Errorf("%d requests broke the rule %q; first ones:\n  %s\n%s", o.count, o.rule,
			strings.Join(o.first, "\n  "), fmt.Sprint(context...))
	}
}

// user is a user as the API shows it.
type user struct {
	ID       string `json:"id"`
	Username string `json:"username"`
	Email    string `json:"email"`
	FullName string `json:"full_name"`
	Version  int    `json:"version"`
}

// register creates a user, failing the test unless it is a 201.
func register(t *testing.T, s *testapp.Server, name string) user {
	t.Helper()
	r := send(s, http.MethodPost, "/api/v1/users", map[string]string{"username": name, "email": name + "@x.io"})
	require.Equal(t, http.StatusCreated, r.Status, "%s", r)
	var u user
	require.NoError(t, json.Unmarshal(r.Body, &u))
	return u
}

// ledger records what writers were told, for the Jepsen-style "set" check afterwards.
type ledger struct {
	mu      sync.Mutex
	acked   map[string]string // username → id, for every 201
	failed  []string          // usernames answered 503 other than "outcome unknown"
	unknown []string          // usernames answered 503 "outcome unknown"
}

func newLedger() *ledger { return &ledger{acked: map[string]string{}} }

// create registers username and records the answer.
func (l *ledger) create(s *testapp.Server, username string) result {
	r := send(s, http.MethodPost, "/api/v1/users", map[string]string{"username": username, "email": username + "@x.io"})
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case r.Status == http.StatusCreated:
		var u user
		if err := json.Unmarshal(r.Body, &u); err == nil {
			l.acked[username] = u.ID
		}
	case r.Status == http.StatusServiceUnavailable && strings.Contains(r.Detail, outcomeUnknown):
		l.unknown = append(l.unknown, username)
	case r.Status == http.StatusServiceUnavailable:
		l.failed = append(l.failed, username)
	}
	return r
}

func (l *ledger) ackedCount() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.acked)
}

// snapshot copies the acknowledged writes so far.
func (l *ledger) snapshot() map[string]string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make(map[string]string, len(l.acked))
	for k, v := range l.acked {
		out[k] = v
	}
	return out
}

// verify checks the database directly: every acknowledged user is stored exactly once with
// its id and one "created" event; a write answered 503 without "outcome unknown" left nothing;
// one with "outcome unknown" left at most one row; no username of prefix is stored twice.
func (l *ledger) verify(t *testing.T, conn *pgx.Conn, prefix string) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	count := func(sql string, args ...any) int {
		var n int
		require.NoError(t, conn.QueryRow(ctx, sql, args...).Scan(&n), "%s", sql)
		return n
	}
	for name, id := range l.acked {
		assert.Equal(t, 1, count("SELECT count(*) FROM users WHERE lower(username) = lower($1)", name),
			"acknowledged %s (%s) stored exactly once", name, id)
		assert.Equal(t, 1, count("SELECT count(*) FROM users WHERE id = $1 AND username = $2", id, name),
			"acknowledged %s stored under the id the client was given (%s)", name, id)
		assert.Equal(t, 1, count("SELECT count(*) FROM user_events WHERE user_id = $1 AND action = 'created'", id),
			"acknowledged %s has one created event", name)
	}
	for _, name := range l.failed {
		assert.Equal(t, 0, count("SELECT count(*) FROM users WHERE lower(username) = lower($1)", name),
			"%s was answered 503 (not 'outcome unknown') yet is stored", name)
	}
	for _, name := range l.unknown {
		assert.LessOrEqual(t, count("SELECT count(*) FROM users WHERE lower(username) = lower($1)", name), 1,
			"%s ('outcome unknown') stored at most once", name)
	}
	assert.Equal(t, 0, count(`SELECT count(*) FROM (SELECT lower(username) FROM users WHERE username LIKE $1
		GROUP BY 1 HAVING count(*) > 1) d`, prefix+"%"), "no username stored twice")
	stored := count("SELECT count(*) FROM users WHERE username LIKE $1", prefix+"%")
	assert.GreaterOrEqual(t, stored, len(l.acked))
	assert.LessOrEqual(t, stored, len(l.acked)+len(l.unknown), "only acknowledged or 'outcome unknown' writes stored")
}

// metrics is one scrape of /metrics: sample lines as name, labels and value.
type metrics []sample

type sample struct {
	name   string
	labels map[string]string
	value  float64
}

// scrape reads the app's /metrics without failing the test, so it can run anywhere.
func scrape(s *testapp.Server) (metrics, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.URL+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("/metrics: %d", resp.StatusCode)
	}
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(resp.Body); err != nil {
		return nil, err
	}
	return parseMetrics(buf.String())
}

// mustScrape is scrape for the test goroutine.
func mustScrape(t *testing.T, s *testapp.Server) metrics {
	t.Helper()
	m, err := scrape(s)
	require.NoError(t, err)
	return m
}

// parseMetrics reads the Prometheus text format (no escapes in our label values).
func parseMetrics(text string) (metrics, error) {
	var out metrics
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		sp := strings.LastIndexByte(line, ' ')
		if sp < 0 {
			return nil, fmt.Errorf("metrics line %q", line)
		}
		v, err := strconv.ParseFloat(line[sp+1:], 64)
		if err != nil {
			return nil, fmt.Errorf("metrics line %q: %w", line, err)
		}
		s := sample{name: line[:sp], labels: map[string]string{}, value: v}
		if i := strings.IndexByte(s.name, '{'); i >= 0 {
			body := strings.TrimSuffix(s.name[i+1:], "}")
			s.name = s.name[:i]
			for _, pair := range strings.Split(body, `",`) {
				k, val, ok := strings.Cut(pair, `="`)
				if !ok {
					continue
				}
				s.labels[k] = strings.TrimSuffix(val, `"`)
			}
		}
		out = append(out, s)
	}
	return out, sc.Err()
}

// sum adds the samples named name whose labels include the given name, value pairs.
func (m metrics) sum(name string, labels ...string) float64 {
	total := 0.0
next:
	for _, s := range m {
		if s.name != name {
			continue
		}
		for i := 0; i+1 < len(labels); i += 2 {
			if s.labels[labels[i]] != labels[i+1] {
				continue next
			}
		}
		total += s.value
	}
	return total
}

const (
	mBreakerState       = "usersvc_db_breaker_state"
	mBreakerTransitions = "usersvc_db_breaker_transitions_total"
	mAttempts           = "usersvc_db_attempts_total"
	mOperations         = "usersvc_db_operations_total"
	mConnectionsLost    = "usersvc_db_connections_lost_total"
)

// Breaker states as /metrics exports them.
const (
	breakerClosed   = 0
	breakerHalfOpen = 1
	breakerOpen     = 2
)

// breakerState reads the breaker's state from /metrics (-1 when the scrape fails).
func breakerState(s *testapp.Server) float64 {
	m, err := scrape(s)
	if err != nil {
		return -1
	}
	return m.sum(mBreakerState)
}

// outcomes lists how many operations ended how between two scrapes, for the log.
func outcomes(after, before metrics) map[string]float64 {
	out := map[string]float64{}
	for _, s := range after {
		if s.name == mOperations {
			if d := s.value - before.sum(mOperations, "op", s.labels["op"], "outcome", s.labels["outcome"]); d > 0 {
				out[s.labels["op"]+" "+s.labels["outcome"]] = d
			}
		}
	}
	return out
}

// transitions lists the breaker's transitions from a scrape, for the log.
func transitions(m metrics) map[string]float64 {
	out := map[string]float64{}
	for _, s := range m {
		if s.name == mBreakerTransitions {
			out[s.labels["from"]+"→"+s.labels["to"]] = s.value
		}
	}
	return out
}
