package load

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"time"
)

// Histogram is a latency distribution in whole microseconds: how many requests (or
// transactions) took each value. pgbench's per-transaction log and wrk's latency record both
// have that resolution, so percentiles of both sides come from the same code (suite 12's
// too).
type Histogram struct {
	counts map[int64]int64 // µs → count
	n      int64
}

// Add records count samples of us microseconds.
func (h *Histogram) Add(us, count int64) {
	if count == 0 {
		return
	}
	if h.counts == nil {
		h.counts = map[int64]int64{}
	}
	h.counts[us] += count
	h.n += count
}

// N is how many samples h holds.
func (h *Histogram) N() int64 {
	if h == nil {
		return 0
	}
	return h.n
}

// Quantile is the nearest-rank q-quantile (0 < q ≤ 1): the smallest value with at least
// ⌈q·n⌉ samples at or below it; 0 when h is nil or empty.
func (h *Histogram) Quantile(q float64) time.Duration {
	if h == nil || h.n == 0 {
		return 0
	}
	rank := max(1, int64(math.Ceil(q*float64(h.n)-1e-9)))
	var seen int64
	for _, v := range slices.Sorted(maps.Keys(h.counts)) {
		seen += h.counts[v]
		if seen >= rank {
			return time.Duration(v) * time.Microsecond
		}
	}
	return 0 // unreachable: seen ends at n ≥ rank
}

// uncorrect undoes wrk's coordinated-omission correction. wrk (4.x, stats_correct in
// stats.c) adds, for every sample of n ≥ 2·interval µs, one synthetic sample at each of
// n − interval, n − 2·interval, … while it is above interval, where interval is the run's
// time per request per connection. So a corrected count c[v] above interval is the sum of
// the raw counts at v, v + interval, v + 2·interval, …, and raw[v] = c[v] − c[v + interval]
// there; at or below interval c[v] is raw. The result has the requests wrk really timed.
// wrk's correction models an open-loop schedule; its closed loop (each connection sends when
// answered, like pgbench's clients) has none, so the raw values are the ones comparable with
// pgbench's log.
func uncorrect(corrected *Histogram, interval int64) (*Histogram, error) {
	raw := &Histogram{}
	if interval <= 0 {
		for v, c := range corrected.counts {
			raw.Add(v, c)
		}
		return raw, nil
	}
	for v, c := range corrected.counts {
		if v > interval {
			c -= corrected.counts[v+interval]
		}
		if c < 0 {
			return nil, fmt.Errorf("load: wrk's latency histogram is not the correction of any record (%d µs: %d samples fewer than at %d µs)",
				v, -c, v+interval)
		}
		raw.Add(v, c)
	}
	return raw, nil
}

// wrkInterval is the expected interval wrk's correction used: run time ÷ (requests ÷
// connections), in integer arithmetic as wrk computes it; 0 when wrk corrected nothing.
func wrkInterval(durationUS, requests, conns int64) int64 {
	if conns <= 0 || requests/conns == 0 {
		return 0
	}
	return durationUS / (requests / conns)
}
