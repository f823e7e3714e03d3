package scale

import (
	"context"
	"fmt"
	"math"
	"slices"
	"time"
)

// measureOp times o on every table: rounds of one call per table, in turn, so the machine's
// busy moments fall on every size alike. pl.warm rounds come first and are not counted.
func measureOp(ctx context.Context, o operation, sets []*dataset, pl plan) (Row, error) {
	r := Row{Key: o.Key, Name: o.Name, Bound: o.Bound, Why: o.Why, Cells: make([]Cell, len(sets))}
	calls := make([]call, len(sets))
	for i, d := range sets {
		c, detail, err := o.prepare(ctx, d)
		if err != nil {
			return r, fmt.Errorf("%d users: %w", d.Users, err)
		}
		calls[i], r.Cells[i].Detail = c, detail
	}
	samples := make([][]time.Duration, len(sets))
	start := time.Now()
	for k := 0; ; k++ {
		measured := k - pl.warm
		if measured >= pl.maxRounds || (measured >= pl.minRounds && time.Since(start) >= pl.budget) {
			break
		}
		if err := ctx.Err(); err != nil {
			return r, err
		}
		for i, c := range calls {
			took, err := c(ctx, k)
			if err != nil {
				return r, fmt.Errorf("%d users, call %d: %w", sets[i].Users, k, err)
			}
			if measured >= 0 {
				samples[i] = append(samples[i], took)
			}
		}
		if measured == -1 {
			start = time.Now() // the budget is for measured rounds
		}
	}
	for i, s := range samples {
		r.Cells[i].P50, r.Cells[i].P95, r.Cells[i].N = Quantile(s, 0.50), Quantile(s, 0.95), len(s)
	}
	return r, nil
}

// Quantile is the q-quantile of samples by nearest rank (the smallest sample at or above a
// share q of them); 0 for no samples.
func Quantile(samples []time.Duration, q float64) time.Duration {
	if len(samples) == 0 {
		return 0
	}
	s := slices.Clone(samples)
	slices.Sort(s)
	rank := int(math.Ceil(q*float64(len(s))-1e-9)) - 1 // 1e-9: 0.95·20 is 19.000000000000004
	return s[min(max(rank, 0), len(s)-1)]
}
