package topology

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestParseEnvReadsTheClusterScriptsExports(t *testing.T) {
	out := `# failed over: the primary is the promoted standby on 127.0.0.1:2
export PRIMARY_URL='postgres://postgres@127.0.0.1:2/usersvc?sslmode=disable'
export POOLER_URL='postgres://postgres@127.0.0.1:3/usersvc?sslmode=disable'
`
	m, err := parseEnv(out)
	require.NoError(t, err)
	require.Equal(t, "postgres://postgres@127.0.0.1:2/usersvc?sslmode=disable", m["PRIMARY_URL"])
	require.Equal(t, "postgres://postgres@127.0.0.1:3/usersvc?sslmode=disable", m["POOLER_URL"])

	_, err = parseEnv("PRIMARY_URL=postgres://x\n")
	require.Error(t, err)
}

func TestWithDatabaseReplacesOnlyTheDatabase(t *testing.T) {
	require.Equal(t, "postgres://postgres@127.0.0.1:5/bench?sslmode=disable",
		withDatabase("postgres://postgres@127.0.0.1:5/usersvc?sslmode=disable", "bench"))
	require.Equal(t, "postgres://h/bench", withDatabase("postgres://h/usersvc", "bench"))
}

func TestParseWrkUncorrectsTheLatencyRecord(t *testing.T) {
	// 2 connections, 1 s, 4 requests: interval = 1e6 / (4/2) = 500000 µs. Raw record: 100 µs
	// ×3 and 1200000 µs ×1, to which wrk's correction adds one sample at 700000 (the next,
	// 200000, is not above the interval).
	out := strings.Join([]string{
		"Running 1s test @ http://127.0.0.1:1/api/v1/users",
		"wrk-summary duration_us=1000000 requests=4 bytes=400 sent=6 connect=0 read=0 write=0 status=1 timeout=0",
		"wrk-latency min_us=100 p50_us=100 p75_us=700000 p90_us=1200000 p99_us=1200000 max_us=1200000",
		"wrk-histogram 100 3",
		"wrk-histogram 700000 1",
		"wrk-histogram 1200000 1",
	}, "\n")
	res, err := parseWrk(out, 2)
	require.NoError(t, err)
	require.EqualValues(t, 4, res.Requests())
	require.EqualValues(t, 3, res.OK())
	require.EqualValues(t, 1, res.Errors())
	require.InDelta(t, 3.0, res.RPS(), 1e-9)
	require.EqualValues(t, 4, res.Latency().N())
	require.Equal(t, 100*time.Microsecond, res.Latency().Quantile(0.5))
	require.Equal(t, 1200*time.Millisecond, res.Latency().Quantile(0.99))
	require.Contains(t, res.Output(), "Running 1s test")

	_, err = parseWrk("Running 1s test\n", 2)
	require.ErrorContains(t, err, "no wrk-summary")
	_, err = parseWrk(strings.Join(strings.Split(out, "\n")[:3], "\n"), 2)
	require.ErrorContains(t, err, "no latency record")
}

func TestParsePgbench(t *testing.T) {
	out := `transaction type: <builtin: select only>
number of transactions actually processed: 30434
number of failed transactions: 0 (0.000%)
latency average = 0.099 ms
initial connection time = 2.311 ms
tps = 10151.512345 (without initial connection time)
`
	res, err := parsePgbench(out)
	require.NoError(t, err)
	require.InDelta(t, 10151.51, res.tps, 0.01)
	require.InDelta(t, 0.099, res.latencyMS, 1e-9)
	require.EqualValues(t, 30434, res.processed)

	_, err = parsePgbench(strings.Replace(out, "failed transactions: 0", "failed transactions: 3", 1))
	require.ErrorContains(t, err, "3 failed")
}

func TestRatioCellShowsTheMedianRatioAndTheRange(t *testing.T) {
	require.Equal(t, "**0.50×**", ratioCell([]float64{50}, []float64{100}))
	require.Equal(t, "**0.50×** (0.40–0.60)", ratioCell([]float64{40, 50, 60}, []float64{100, 100, 100}))
	require.Equal(t, "–", ratioCell(nil, nil))
	require.True(t, math.IsNaN(median(nil)))
	require.Equal(t, 2.5, median([]float64{4, 1, 2, 3}))
}

func TestOrderedReversesOddRounds(t *testing.T) {
	require.Equal(t, []int{1, 2, 3}, ordered([]int{1, 2, 3}, 0))
	require.Equal(t, []int{3, 2, 1}, ordered([]int{1, 2, 3}, 1))
}

func TestSplitDividesTheMachinesCPUByProcess(t *testing.T) {
	before := cpuSample{machine: time.Second, service: 100 * time.Millisecond, pooler: 10 * time.Millisecond, ok: true}
	after := cpuSample{machine: 3 * time.Second, service: 900 * time.Millisecond, pooler: 210 * time.Millisecond,
		generator: 100 * time.Millisecond, ok: true}
	c := split(before, after, 0, 10_000)
	require.True(t, c.ok)
	require.Equal(t, 200*time.Microsecond, c.total)
	require.Equal(t, 80*time.Microsecond, c.service)
	require.Equal(t, 20*time.Microsecond, c.pooler)
	require.Equal(t, 10*time.Microsecond, c.generator)
	require.Equal(t, 90*time.Microsecond, c.rest)
	require.False(t, split(before, cpuSample{}, 0, 10).ok)
}
