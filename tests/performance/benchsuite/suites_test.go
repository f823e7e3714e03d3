package benchsuite

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"usersvc/tests/performance/perfkit"
)

const sample = `goos: linux
goarch: amd64
pkg: usersvc/tests/performance/bench
BenchmarkCRUD/op=get/impl=gorm-2         	   10000	    100000 ns/op	    5000 B/op	      80 allocs/op
BenchmarkCRUD/op=get/impl=gorm-2         	   10000	    120000 ns/op	    5000 B/op	      80 allocs/op
BenchmarkCRUD/op=get/impl=gorm-2         	   10000	    110000 ns/op	    5000 B/op	      80 allocs/op
BenchmarkCRUD/op=get/impl=pgx-2          	   10000	     88000 ns/op	    1000 B/op	      20 allocs/op
BenchmarkCRUD/op=create/impl=gorm-2      	    1000	   1000000 ns/op	    9000 B/op	     150 allocs/op
BenchmarkCRUD/op=create/impl=pgx-2       	    1000	    800000 ns/op	    2000 B/op	      30 allocs/op
BenchmarkLayers/layer=pgx-2              	   10000	     60000 ns/op	    1300 B/op	      25 allocs/op
BenchmarkLayers/layer=gorm-2             	   10000	     90000 ns/op	    6100 B/op	     101 allocs/op
BenchmarkLayers/layer=repository-2       	   10000	     95000 ns/op	    7500 B/op	     124 allocs/op
BenchmarkDepth/mode=keyset/depth=0-2     	    1000	    200000 ns/op
BenchmarkDepth/mode=offset/depth=0-2     	    1000	    190000 ns/op
BenchmarkDepth/mode=keyset/depth=100000-2	    1000	    260000 ns/op
BenchmarkDepth/mode=offset/depth=100000-2	      10	  50000000 ns/op
PASS
`

// The report's headline ratios come from here: a wrong division or a median taken over the
// wrong samples would be reported as a met or missed target.
func TestSuitesTakeMediansAndRatiosFromBenchmarkOutput(t *testing.T) {
	set, err := Parse(strings.NewReader(sample), "bench.txt")
	require.NoError(t, err)
	for name, r := range set {
		require.True(t, strings.HasPrefix(name, r.Base+"/"), "%s parsed as family %s", name, r.Base)
	}
	get := set.One("BenchmarkCRUD", map[string]string{"op": "get", "impl": "gorm"})
	require.NotNil(t, get)
	require.Equal(t, 3, get.Runs)
	require.InDelta(t, 110000, get.NsPerOp, 0.5, "median of three runs")
	require.InDelta(t, 80, get.AllocsPerOp, 0.01)

	suites := Suites(set, perfkit.Profile{Name: "full"}, 8)
	byID := map[string]perfkit.Suite{}
	for _, s := range suites {
		byID[s.ID] = s
	}
	crud := byID["01-crud"]
	require.InDelta(t, 0.8, crud.Metrics["ratio.repo_get_vs_pgx"], 1e-9, "pgx 88 µs / GORM 110 µs")
	require.InDelta(t, 0.8, crud.Metrics["ratio.repo_create_vs_pgx"], 1e-9)
	require.Len(t, crud.Targets, 3)
	require.False(t, crud.Targets[0].Met, "0.80× misses the 0.90× get target")
	require.Equal(t, "0.10× short", crud.Targets[0].Gap)
	require.Equal(t, "80", crud.Targets[2].Got, "allocations per get")
	require.False(t, crud.Targets[2].Met, "80 allocations miss ≤ 50")

	require.Len(t, crud.Tables, 2, "CRUD and the layer table")
	require.Equal(t, []string{"gorm", "90 µs", "+30 µs", "0.67×", "101", "6100"}, crud.Tables[1].Rows[1])
	require.Contains(t, crud.Notes[0], "Plain GORM with database/sql costs 30 µs over raw pgx per get; the repository, 35 µs")

	pag := byID["03-pagination"]
	require.Len(t, pag.Charts, 1)
	require.Len(t, pag.Charts[0].Series, 2)
	depth := pag.Targets[len(pag.Targets)-1]
	require.Empty(t, depth.NotMeasured)
	require.True(t, depth.Met, "keyset 260 µs at 100k vs 200 µs first: 1.3×")
	require.Equal(t, "1.30× at 100000", depth.Got)
	_, hasBulk := byID["04-bulk"]
	require.False(t, hasBulk, "no bulk benchmarks, no bulk suite")
}

func TestDepthTargetIsNotJudgedWhenTheDataIsTooShallow(t *testing.T) {
	shallow := strings.ReplaceAll(sample, "depth=100000", "depth=10000")
	set, err := Parse(strings.NewReader(shallow), "bench.txt")
	require.NoError(t, err)
	for _, s := range Suites(set, perfkit.Profile{Name: "quick"}, 8) {
		if s.ID == "03-pagination" {
			tg := s.Targets[len(s.Targets)-1]
			require.Contains(t, tg.NotMeasured, "10000 rows deep")
			return
		}
	}
	t.Fatal("no pagination suite")
}

// With -count=5 every family must still be found: the benchmark reader reuses its buffers
// between lines, so a name kept from an earlier line must be a copy.
func TestEveryFamilyIsFoundWhenEachBenchmarkRanSeveralTimes(t *testing.T) {
	var b strings.Builder
	for _, line := range strings.Split(sample, "\n") {
		n := 1
		if strings.HasPrefix(line, "Benchmark") {
			n = 5
		}
		for range n {
			b.WriteString(line + "\n")
		}
	}
	set, err := Parse(strings.NewReader(b.String()), "bench.txt")
	require.NoError(t, err)
	require.Len(t, set.Find("BenchmarkCRUD", nil), 4)
	require.Len(t, set.Find("BenchmarkDepth", nil), 4)
	require.Equal(t, 5, set.One("BenchmarkCRUD", map[string]string{"op": "get", "impl": "pgx"}).Runs)
}
