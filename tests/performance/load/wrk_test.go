package load

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"usersvc/tests/performance/perfkit"
)

// correct is wrk 4's stats_correct (src/stats.c) on a histogram: for every value n ≥
// 2·expected it adds n's count at n − expected, n − 2·expected, … while above expected.
func correct(raw map[int64]int64, expected int64) map[int64]int64 {
	data := map[int64]int64{}
	var maxV int64
	for v, c := range raw {
		data[v] = c
		maxV = max(maxV, v)
	}
	for n := 2 * expected; n <= maxV; n++ {
		count := data[n]
		for m := n - expected; count > 0 && m > expected; m -= expected {
			data[m] += count
		}
	}
	return data
}

func TestUncorrectUndoesWrksCorrection(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, expected := range []int64{1, 2, 7, 100, 1000} {
		for range 20 {
			raw := map[int64]int64{}
			var n int64
			for range 1 + rng.IntN(300) {
				v := int64(1 + rng.IntN(int(12*expected)+5)) // below, at and far above the interval
				raw[v]++
				n++
			}
			corrected := &Histogram{}
			for v, c := range correct(raw, expected) {
				corrected.Add(v, c)
			}
			got, err := uncorrect(corrected, expected)
			require.NoError(t, err)
			require.Equal(t, raw, got.counts, "expected interval %d", expected)
			require.Equal(t, n, got.n)
		}
	}
	// A histogram no correction can produce is refused.
	_, err := uncorrect(&Histogram{counts: map[int64]int64{15: 1, 25: 5}, n: 6}, 10)
	require.Error(t, err)
	// No interval: nothing was corrected.
	h := &Histogram{}
	h.Add(5, 2)
	got, err := uncorrect(h, 0)
	require.NoError(t, err)
	require.Equal(t, h.counts, got.counts)
}

func TestWrkInterval(t *testing.T) {
	require.Equal(t, int64(1000), wrkInterval(1_000_000, 8000, 8))
	require.Equal(t, int64(1_000_000/1142), wrkInterval(1_000_000, 9137, 8)) // integer division first, as wrk does
	require.Zero(t, wrkInterval(1_000_000, 7, 8))
}

func TestHistogramQuantiles(t *testing.T) {
	h := &Histogram{}
	require.Zero(t, h.Quantile(0.99))
	for v := int64(1); v <= 100; v++ {
		h.Add(v, 1)
	}
	require.Equal(t, 50*time.Microsecond, h.Quantile(0.5))
	require.Equal(t, 99*time.Microsecond, h.Quantile(0.99))
	require.Equal(t, 100*time.Microsecond, h.Quantile(1))
	require.Equal(t, time.Microsecond, h.Quantile(0.001))
	h.Add(1000, 100) // half the samples at 1 ms now
	require.Equal(t, 100*time.Microsecond, h.Quantile(0.5))
	require.Equal(t, time.Millisecond, h.Quantile(0.51))
}

// wrkOutput is what wrk 4.1.0 prints with the suite's scripts: its own report, then done()'s
// lines; the histogram is corrected from raw as wrk would.
func wrkOutput(raw map[int64]int64, durationUS int64, conns int, status, timeout int64) string {
	var requests int64
	for _, c := range raw {
		requests += c
	}
	requests += timeout
	var b strings.Builder
	fmt.Fprintf(&b, `Running 1s test @ http://127.0.0.1:40123/api/v1/users
  2 threads and %d connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.31ms    1.56ms  25.10ms   93.12%%
    Req/Sec     3.20k   250.11     3.61k    70.00%%
  Latency Distribution
     50%%    0.98ms
     75%%    1.40ms
     90%%    2.10ms
     99%%    8.70ms
  %d requests in 1.00s, 2.54MB read
Requests/sec:   6370.41
Transfer/sec:      2.53MB
wrk-summary duration_us=%d requests=%d bytes=2662138 sent=%d connect=0 read=0 write=0 status=%d timeout=%d
wrk-latency min_us=120 p50_us=980 p75_us=1400 p90_us=2100 p99_us=8700 max_us=25100
`, conns, requests, durationUS, requests, requests+int64(conns)+1, status, timeout)
	for v, c := range correct(raw, wrkInterval(durationUS, requests, int64(conns))) {
		if c > 0 {
			fmt.Fprintf(&b, "wrk-histogram %d %d\n", v, c)
		}
	}
	return b.String()
}

func TestParseWrk(t *testing.T) {
	raw := map[int64]int64{}
	rng := rand.New(rand.NewPCG(3, 4))
	for range 6000 {
		raw[int64(100+rng.ExpFloat64()*1000)]++
	}
	out := wrkOutput(raw, 1_003_000, 8, 0, 0)
	res, err := ParseWrk(out, 8)
	require.NoError(t, err)
	require.Equal(t, int64(6000), res.requests)
	require.Equal(t, int64(6000+8+1), res.sent)
	require.Equal(t, 1003*time.Millisecond, res.duration)
	require.Zero(t, res.Errors())
	require.InDelta(t, 6000/1.003, res.RPS(), 0.01)
	require.Equal(t, 980*time.Microsecond, res.p50)
	require.Equal(t, 8700*time.Microsecond, res.p99)
	require.Equal(t, raw, res.raw.counts)
	require.Contains(t, res.output, "Requests/sec:   6370.41")
	require.NotContains(t, res.output, "wrk-")
	require.Equal(t, "0", res.errorsCell())

	// Errors: answers ≥ 400 are answered requests but not ok ones; timeouts were not timed.
	res, err = ParseWrk(wrkOutput(raw, 1_003_000, 8, 12, 3), 8)
	require.NoError(t, err)
	require.Equal(t, int64(15), res.Errors())
	require.Equal(t, int64(6003-12), res.OK())
	require.Contains(t, res.errorsCell(), "non-2xx or 3xx responses ×12")
	require.Contains(t, res.errorsCell(), "timeout 3")

	// Without the histogram (throughput runs) there is no raw record.
	noHist := out[:strings.Index(out, "wrk-histogram")]
	res, err = ParseWrk(noHist, 8)
	require.NoError(t, err)
	require.Nil(t, res.raw)

	// A histogram that does not hold every answered request is refused.
	_, err = ParseWrk(noHist+"wrk-histogram 100 1\n", 8)
	require.ErrorContains(t, err, "want 6000")
	// A script that did not load prints no summary.
	_, err = ParseWrk(strings.Split(out, "wrk-summary")[0], 8)
	require.ErrorContains(t, err, "no wrk-summary")
	_, err = ParseWrk("wrk-summary duration_us=x\n", 8)
	require.Error(t, err)
}

// The wrk scripts must read exactly the users the pgbench scripts read (live seeded users,
// uniformly) and register usernames that are unique and under the suite's prefix; run them
// with wrk against a recording server.
func TestWrkScriptsReadLiveUsersAndRegisterUniqueNames(t *testing.T) {
	bin, err := FindWrk()
	if err != nil {
		t.Skip(err)
	}
	d := perfkit.SeedInfo{Users: 400, DeletedEvery: 20}
	vars := pgbenchVars(d, "plx")
	var mu sync.Mutex
	reads := map[string]int{}  // id or email → times read
	names := map[string]bool{} // registered usernames
	dup := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+perfkit.Token {
			http.Error(w, "no token", http.StatusUnauthorized)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		switch {
		case r.Method == http.MethodPost && r.URL.Path == "/api/v1/users":
			var body struct{ Username, Email string }
			if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body.Email != body.Username+"@example.com" ||
				r.Header.Get("Content-Type") != "application/json" {
				http.Error(w, "bad body", http.StatusBadRequest)
				return
			}
			if names[body.Username] {
				dup++
			}
			names[body.Username] = true
			w.WriteHeader(http.StatusCreated)
		case r.URL.Path == "/api/v1/users" && r.URL.Query().Has("email"):
			reads[r.URL.Query().Get("email")]++
		case r.URL.Path == "/api/v1/users":
			reads[r.URL.RawQuery]++
		case strings.HasPrefix(r.URL.Path, "/api/v1/users/"):
			reads[strings.TrimPrefix(r.URL.Path, "/api/v1/users/")]++
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()

	live := map[string]bool{}
	for i := 1; i <= d.Users; i++ {
		if d.Live(i) {
			live[perfkit.ID(i).String()], live[perfkit.Email(i)] = true, true
		}
	}
	dir := t.TempDir()
	for _, b := range baselines {
		script, err := renderWrkScript(dir, b.lua)
		require.NoError(t, err)
		mu.Lock()
		clear(reads)
		mu.Unlock()
		res, err := runWrk(t.Context(), bin, wrkRun{script: script, url: srv.URL + "/api/v1/users", conns: 4, dur: time.Second,
			histogram: true, opts: []string{"token=" + perfkit.Token, "live=" + vars["live"], "per=" + vars["per"],
				"seed=1", "prefix=plx", "tag=c4"}})
		require.NoError(t, err, b.lua)
		require.Zero(t, res.Errors(), b.lua)
		require.Positive(t, res.requests, b.lua)
		require.Equal(t, res.requests, res.raw.n, b.lua)
		mu.Lock()
		switch b.key {
		case "create":
			require.Zero(t, dup, "duplicate usernames")
			require.GreaterOrEqual(t, int64(len(names)), res.requests)
			require.LessOrEqual(t, int64(len(names)), res.sent)
			for name := range names {
				require.Regexp(t, `^plx_c4\.[12]\.\d+$`, name)
			}
		case "list":
			require.Len(t, reads, 1)
			require.GreaterOrEqual(t, int64(reads["limit=25"]), res.requests) // and those in flight when wrk stopped
			require.LessOrEqual(t, int64(reads["limit=25"]), res.requests+4)
		default:
			for k := range reads {
				require.True(t, live[k], "%s read %q, not a live seeded user", b.lua, k)
			}
			if res.requests > 20*int64(d.Users) { // uniform over the live users: all of them met
				require.Len(t, reads, d.Users-d.Users/d.DeletedEvery, b.lua)
			}
		}
		mu.Unlock()
	}
}
