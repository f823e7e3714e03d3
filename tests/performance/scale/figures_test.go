package scale

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"usersvc/tests/performance/perfkit"
)

func TestSizesAreAHundredthATenthAndTheRunsTable(t *testing.T) {
	require.Equal(t, []int{10_000, 100_000, 1_000_000}, Sizes(1_000_000))
	require.Equal(t, []int{200, 2_000, 20_000}, Sizes(20_000))
	require.Equal(t, []int{500, 5_000}, Sizes(5_000), "a hundredth below minUsers is left out")
	require.Equal(t, []int{100}, Sizes(100))
}

func TestDeepestPageIsTheWantedDepthOrTheDeepestFullPage(t *testing.T) {
	require.Equal(t, 500_000, DeepestPage(500_000, 950_000, 25))
	require.Equal(t, 94_975, DeepestPage(500_000, 95_000, 25), "100k seeded users, 1 in 20 deleted")
	require.Equal(t, 9_475, DeepestPage(500_000, 9_500, 25))
	require.Equal(t, 1, DeepestPage(500_000, 20, 25), "never the first page")
}

func TestQuantileIsByNearestRank(t *testing.T) {
	var s []time.Duration
	for i := 20; i >= 1; i-- { // unsorted on purpose
		s = append(s, time.Duration(i)*time.Millisecond)
	}
	require.Equal(t, 10*time.Millisecond, Quantile(s, 0.50))
	require.Equal(t, 19*time.Millisecond, Quantile(s, 0.95), "0.95·20 is 19 even in floating point")
	require.Equal(t, 20*time.Millisecond, Quantile(s, 1))
	require.Equal(t, 1*time.Millisecond, Quantile(s, 0))
	require.Equal(t, 20*time.Millisecond, s[0], "the caller's slice is not sorted")
	require.Equal(t, time.Duration(0), Quantile(nil, 0.5))
	require.Equal(t, 7*time.Millisecond, Quantile([]time.Duration{7 * time.Millisecond}, 0.95))
}

func row(bound float64, p50s ...time.Duration) Row {
	r := Row{Key: "op", Name: "op", Bound: bound}
	for _, p := range p50s {
		r.Cells = append(r.Cells, Cell{P50: p, P95: 2 * p, N: 10})
	}
	return r
}

func TestGrowthAndTargetCompareTheLargestTableWithTheSmallest(t *testing.T) {
	sizes := []int{10_000, 100_000, 1_000_000}

	flat := row(3, 200*time.Microsecond, 900*time.Microsecond, 260*time.Microsecond)
	require.InDelta(t, 1.3, flat.Growth(), 1e-9, "the middle table does not count")
	tg := flat.Target(sizes)
	require.True(t, tg.Met)
	require.Equal(t, "1.30×", tg.Got)
	require.Equal(t, "≤ 3×", tg.Want)
	require.Contains(t, tg.Name, "1M")
	require.Contains(t, tg.Name, "10k")
	require.Empty(t, tg.Gap)

	linear := row(3, 2*time.Millisecond, 20*time.Millisecond, 200*time.Millisecond)
	require.InDelta(t, 100, linear.Growth(), 1e-9)
	tg = linear.Target(sizes)
	require.False(t, tg.Met)
	require.Equal(t, "97.00× over", tg.Gap)

	edge := row(3, time.Millisecond, 3*time.Millisecond)
	require.True(t, edge.Target(sizes[:2]).Met, "the bound itself is met")

	one := row(3, time.Millisecond)
	require.Zero(t, one.Growth())
	require.NotEmpty(t, one.Target(sizes[:1]).NotMeasured)
	require.Zero(t, row(3, 0, time.Millisecond).Growth(), "no division by a zero median")
}

func TestShareDigitsLeaveAPrefixOfAboutAHundredthOfTheTable(t *testing.T) {
	for n, want := range map[int]int{1_000_000: 4, 100_000: 3, 10_000: 2, 20_000: 2, 2_000: 1, 200: 1, 60: 1} {
		require.Equal(t, want, ShareDigits(n), "%d users", n)
	}
	require.Equal(t, 10_000, pow10(4))
	require.Equal(t, 1, pow10(0))
}

func TestLabels(t *testing.T) {
	for n, want := range map[int]string{200: "200", 2_000: "2k", 20_000: "20k", 1_000_000: "1M", 1_500_000: "1.5M", 1_234: "1,234"} {
		require.Equal(t, want, SizeLabel(n), "%d", n)
	}
	require.Equal(t, "500,000", grouped(500_000))
	require.Equal(t, "1,000,000", grouped(1_000_000))
	require.Equal(t, "-1,000", grouped(-1000))
	require.Equal(t, "999", grouped(999))
	require.Equal(t, "10k, 100k and 1M", joinSizes([]int{10_000, 100_000, 1_000_000}))
	require.Equal(t, "0.250", ms(250*time.Microsecond))
	require.Equal(t, "2.50", ms(2500*time.Microsecond))
	require.Equal(t, "275", ms(275*time.Millisecond))
}

func TestFillWritesOneRowPerOperationWithGrowthAndTarget(t *testing.T) {
	sets := []*dataset{{Users: 10_000, Total: 10_000, Live: 9_500}, {Users: 1_000_000, Total: 1_000_012, Live: 950_000}}
	deep := row(3, 300*time.Microsecond, 330*time.Microsecond)
	deep.Key, deep.Name, deep.Cells[0].Detail = "deep_page", "deep page", "9,475 deep"
	slow := row(3, time.Millisecond, 150*time.Millisecond)
	slow.Key, slow.Name = "stats", "stats"
	var s perfkit.Suite
	fill(&s, sets, []Row{deep, slow})

	require.Len(t, s.Tables, 1)
	tb := s.Tables[0]
	require.Equal(t, []string{"operation", "10k", "1M", "1M ÷ 10k", "target"}, tb.Header)
	require.Len(t, tb.Rows, 3)
	require.Equal(t, []string{"users in the table (live)", "10,000 (9,500)", "1,000,012 (950,000)", "", ""}, tb.Rows[0])
	require.Equal(t, []string{"deep page", "0.300 / 0.600 (9,475 deep)", "0.330 / 0.660", "1.10×", "≤ 3× met"}, tb.Rows[1])
	require.Equal(t, "150.00×", tb.Rows[2][3])
	require.Contains(t, tb.Rows[2][4], "not met")
	for _, r := range tb.Rows {
		require.Len(t, r, len(tb.Header))
	}

	require.Len(t, s.Targets, 2)
	require.True(t, s.Targets[0].Met)
	require.False(t, s.Targets[1].Met)
	require.InDelta(t, 150, s.Metrics["scale_stats_growth"], 1e-9)
	require.InDelta(t, 150, s.Metrics["scale_stats_1000000_p50_ms"], 1e-9)
	require.InDelta(t, 0.6, s.Metrics["scale_deep_page_10000_p95_ms"], 1e-9)
	require.Len(t, s.Charts, 1)
	require.Len(t, s.Charts[0].Series, 2)
	require.Equal(t, perfkit.Point{X: 1_000_000, Y: 150}, s.Charts[0].Series[1].Points[1])
	require.True(t, strings.Contains(strings.Join(s.Notes, "\n"), "deepest full page"))
}

// measureOp goes round the tables in turn, throws the warm-up rounds away and stops at
// maxRounds, or at the budget once it has minRounds.
func TestMeasureOpInterleavesTablesAndDropsTheWarmUp(t *testing.T) {
	sets := []*dataset{{Users: 100}, {Users: 1000}}
	var order []int
	var keys []int
	op := operation{Key: "k", Name: "n", Bound: 3, prepare: func(_ context.Context, d *dataset) (call, string, error) {
		return func(_ context.Context, k int) (time.Duration, error) {
			order = append(order, d.Users)
			if d.Users == 100 {
				keys = append(keys, k)
			}
			if k < 2 { // the warm-up rounds are slow: they must not count
				return time.Second, nil
			}
			return time.Duration(d.Users) * time.Microsecond, nil
		}, "", nil
	}}
	r, err := measureOp(context.Background(), op, sets, plan{warm: 2, minRounds: 3, maxRounds: 5, budget: time.Hour})
	require.NoError(t, err)
	require.Equal(t, []int{100, 1000, 100, 1000, 100, 1000}, order[:6])
	require.Equal(t, []int{0, 1, 2, 3, 4, 5, 6}, keys, "2 warm-up rounds, then maxRounds; each call its own key")
	require.Equal(t, 5, r.Cells[0].N)
	require.Equal(t, 100*time.Microsecond, r.Cells[0].P95)
	require.Equal(t, time.Millisecond, r.Cells[1].P50)
	require.InDelta(t, 10, r.Growth(), 1e-9)

	order = nil
	r, err = measureOp(context.Background(), op, sets, plan{minRounds: 3, maxRounds: 1000, budget: time.Nanosecond})
	require.NoError(t, err)
	require.Equal(t, 3, r.Cells[0].N, "past the budget: minRounds")

	boom := errors.New("boom")
	op.prepare = func(_ context.Context, d *dataset) (call, string, error) {
		return func(context.Context, int) (time.Duration, error) { return 0, boom }, "", nil
	}
	_, err = measureOp(context.Background(), op, sets, plan{minRounds: 1, maxRounds: 1})
	require.ErrorIs(t, err, boom, "a wrong answer fails the suite")
}
