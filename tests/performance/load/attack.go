package load

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// clientTimeout bounds one request on the client side; it exceeds http.request_timeout
// (10s), so a request the server never answers shows up as an error instead of a hang.
const clientTimeout = 30 * time.Second

// newClient is the HTTP client of one suite: one transport shared by all its attacks, with
// an idle connection kept for every client of the largest load.
func newClient() *http.Client {
	return &http.Client{Timeout: clientTimeout, Transport: &http.Transport{
		Proxy:               nil,
		MaxIdleConns:        1024,
		MaxIdleConnsPerHost: 1024,
		IdleConnTimeout:     30 * time.Second,
		DisableCompression:  true,
	}}
}

// load is one attack: clients workers for dur, as a closed loop (rate 0: each worker sends
// its next request when the last one is answered) or at a constant rate (open model: the
// schedule does not wait for slow answers, so stalls show in the latencies).
type load struct {
	name    string
	clients int
	rate    int // requests per second; 0: closed loop
	dur     time.Duration
	target  vegeta.Targeter
	// check returns "" when r is the answer the request should get, else a short label of
	// what came instead ("GET 404"). It runs on one goroutine, in order of completion.
	check func(r *vegeta.Result) string
}

// tally is what one kind of request (by method) got: vegeta's metrics (latency digest,
// status codes) and our verdict on each response.
type tally struct {
	m        vegeta.Metrics
	good     int
	bad      int
	problems map[string]int // label → count
}

func (t *tally) add(r *vegeta.Result, problem string) {
	t.m.Add(r)
	if problem == "" {
		t.good++
		return
	}
	t.bad++
	if t.problems == nil {
		t.problems = map[string]int{}
	}
	t.problems[problem]++
}

// rps is the rate of expected answers over the attack's span (first request sent to last
// answer received).
func (t *tally) rps() float64 {
	span := t.m.End.Sub(t.m.Earliest).Seconds()
	if span <= 0 {
		return 0
	}
	return float64(t.good) / span
}

func (t *tally) requests() int { return t.good + t.bad }

func (t *tally) errorRate() float64 {
	if t.requests() == 0 {
		return 0
	}
	return float64(t.bad) / float64(t.requests())
}

func (t *tally) q(nth float64) time.Duration { return t.m.Latencies.Quantile(nth) }

// problemText lists the unexpected answers, most frequent first: `GET 503 ×3, POST 409 ×1`.
func (t *tally) problemText() string {
	type kv struct {
		k string
		n int
	}
	var all []kv
	for k, n := range t.problems {
		all = append(all, kv{k, n})
	}
	sort.Slice(all, func(i, j int) bool { return all[i].n > all[j].n || all[i].n == all[j].n && all[i].k < all[j].k })
	parts := make([]string, len(all))
	for i, e := range all {
		parts[i] = fmt.Sprintf("%s ×%d", e.k, e.n)
	}
	return strings.Join(parts, ", ")
}

// outcome is one attack's result: every request, and per method.
type outcome struct {
	all      *tally
	byMethod map[string]*tally
}

func (o *outcome) method(m string) *tally {
	if t, ok := o.byMethod[m]; ok {
		return t
	}
	return &tally{}
}

// attack runs l against the server through client and tallies every answer.
func attack(ctx context.Context, client *http.Client, l load) (*outcome, error) {
	if l.clients < 1 || l.dur <= 0 {
		return nil, fmt.Errorf("load: attack %s: %d clients for %s", l.name, l.clients, l.dur)
	}
	opts := []func(*vegeta.Attacker){vegeta.Client(client), vegeta.MaxBody(4 << 10)}
	pacer := vegeta.ConstantPacer{} // zero: no pacing, a closed loop of exactly l.clients workers
	if l.rate > 0 {
		pacer = vegeta.ConstantPacer{Freq: l.rate, Per: time.Second}
		opts = append(opts, vegeta.Workers(uint64(l.clients)), vegeta.MaxWorkers(10_000))
	} else {
		opts = append(opts, vegeta.Workers(uint64(l.clients)), vegeta.MaxWorkers(uint64(l.clients)))
	}
	atk := vegeta.NewAttacker(opts...)
	stop := context.AfterFunc(ctx, func() { atk.Stop() })
	defer stop()
	check := l.check
	if check == nil {
		check = expectStatus(nil)
	}
	out := &outcome{all: &tally{}, byMethod: map[string]*tally{}}
	for r := range atk.Attack(l.target, pacer, l.dur, l.name) {
		if r.Method == "" {
			continue // the targeter ran out (vegeta.ErrNoTargets): no request was sent
		}
		problem := check(r)
		out.all.add(r, problem)
		t, ok := out.byMethod[r.Method]
		if !ok {
			t = &tally{}
			out.byMethod[r.Method] = t
		}
		t.add(r, problem)
	}
	out.all.m.Close()
	for _, t := range out.byMethod {
		t.m.Close()
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if out.all.requests() == 0 {
		return nil, fmt.Errorf("load: attack %s sent no request", l.name)
	}
	return out, nil
}

// defaultStatus is the answer each method gets in our loads unless said otherwise.
var defaultStatus = map[string]int{
	http.MethodGet: http.StatusOK, http.MethodPost: http.StatusCreated,
	http.MethodPatch: http.StatusOK, http.MethodDelete: http.StatusNoContent,
}

// expectStatus checks each answer's status against want (by method), falling back on
// defaultStatus.
func expectStatus(want map[string]int) func(r *vegeta.Result) string {
	return func(r *vegeta.Result) string {
		code, ok := want[r.Method]
		if !ok {
			code = defaultStatus[r.Method]
		}
		if int(r.Code) == code {
			return ""
		}
		return problemLabel(r)
	}
}

// within2xxOr503 accepts any 2xx, and 503 only with Retry-After: what an overloaded
// service may answer.
func within2xxOr503(r *vegeta.Result) string {
	switch {
	case r.Code >= 200 && r.Code < 300:
		return ""
	case r.Code == http.StatusServiceUnavailable && r.Headers.Get("Retry-After") != "":
		return ""
	case r.Code == http.StatusServiceUnavailable:
		return r.Method + " 503 without Retry-After"
	}
	return problemLabel(r)
}

func problemLabel(r *vegeta.Result) string {
	if r.Code == 0 {
		msg := r.Error
		if len(msg) > 80 {
			msg = msg[:80] + "…"
		}
		return r.Method + " " + msg
	}
	return fmt.Sprintf("%s %d", r.Method, r.Code)
}
