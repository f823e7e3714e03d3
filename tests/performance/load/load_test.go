package load

import (
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"usersvc/tests/performance/perfkit"
)

// The pgbench scripts read "the k-th live seeded user" with arithmetic; it must name exactly
// the live users, in order, or pgbench would measure misses while the app reads hits.
func TestScriptsReadEveryLiveSeededUserAndNoOther(t *testing.T) {
	for _, d := range []perfkit.SeedInfo{
		{Users: 1000, DeletedEvery: 20}, {Users: 999, DeletedEvery: 7}, {Users: 50, DeletedEvery: 2}, {Users: 40},
	} {
		vars := pgbenchVars(d, "plx")
		live, per := atoiMust(t, vars["live"]), atoiMust(t, vars["per"])
		var want []int
		for i := 1; i <= d.Users; i++ {
			if d.Live(i) {
				want = append(want, i)
			}
		}
		got := make([]int, live)
		for k := 1; k <= live; k++ {
			got[k-1] = nthLive(k, per)
		}
		require.Equal(t, want, got, "%+v", d)
	}
}

func TestScriptsRenderWithTheSeededIDs(t *testing.T) {
	dir := t.TempDir()
	for _, b := range baselines {
		path, err := renderScript(dir, b.script)
		require.NoError(t, err)
		text := readFile(t, path)
		require.NotContains(t, text, "{{", b.script)
		if b.key == "get" {
			require.Contains(t, text, "to_hex((:n)::bigint)")
		}
	}
}

func TestParsePgbench(t *testing.T) {
	out := `pgbench (15.20 (Debian 15.20-0+deb12u1))
transaction type: insert_user.sql
query mode: prepared
number of clients: 8
number of threads: 2
maximum number of tries: 1
duration: 2 s
number of transactions actually processed: 7044
number of failed transactions: 0 (0.000%)
latency average = 2.267 ms
initial connection time = 13.276 ms
tps = 3529.211945 (without initial connection time)
`
	res, err := parsePgbench(out)
	require.NoError(t, err)
	require.Equal(t, pgbenchResult{tps: 3529.211945, latencyMS: 2.267, processed: 7044}, res)

	_, err = parsePgbench(strings.Replace(out, "failed transactions: 0", "failed transactions: 3", 1))
	require.ErrorContains(t, err, "3 failed")
	_, err = parsePgbench("pgbench: error: connection to server failed\n")
	require.Error(t, err)

	// pgbench 13 (with-postgres accepts PostgreSQL 13) words the tps line differently.
	res, err = parsePgbench(strings.Replace(out, "(without initial connection time)", "(excluding connections establishing)", 1))
	require.NoError(t, err)
	require.InDelta(t, 3529.211945, res.tps, 1e-9)
}

func TestBestPoolWeighsGetAndPostAlike(t *testing.T) {
	get := map[int]float64{2: 1000, 4: 1900, 8: 2000, 16: 1980, 32: 1500}
	post := map[int]float64{2: 300, 4: 500, 8: 580, 16: 600, 32: 590}
	best, near := bestPool(get, post)
	require.Equal(t, 16, best)
	require.Equal(t, []int{8, 16}, near)
}

func TestTailKeepsTheEnd(t *testing.T) {
	tl := &tail{max: 8}
	_, _ = tl.Write([]byte("0123456789"))
	_, _ = tl.Write([]byte("ab"))
	require.Equal(t, "456789ab", tl.String())
}

func atoiMust(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	require.NoError(t, err)
	return n
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return string(b)
}

// The CPU table divides real /proc readings; this process's own CPU must be readable and grow
// with work, or every cell would be a silent zero.
func TestCPUSamplesGrowWithWork(t *testing.T) {
	before := sampleCPU(os.Getpid())
	require.True(t, before.ok)
	x := 0
	for start := time.Now(); time.Since(start) < 100*time.Millisecond; {
		x++ // spin: CPU time, not sleep
	}
	after := sampleCPU(os.Getpid())
	require.Positive(t, x)
	require.Greater(t, after.server, before.server, "this process's /proc/<pid>/stat time")
	require.Greater(t, after.self, before.self)
	require.GreaterOrEqual(t, after.machine, before.machine)
	split := splitHTTP(before, after, 10)
	require.True(t, split.ok)
	require.Equal(t, (after.machine-before.machine)/10, split.total)
}
