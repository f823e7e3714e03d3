package topology

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"time"
)

// histogram is a latency distribution in whole microseconds: how many requests took each
// value (wrk's resolution).
type histogram struct {
	counts map[int64]int64 // µs → count
	n      int64
}

func (h *histogram) add(us, count int64) {
	if count == 0 {
		return
	}
	if h.counts == nil {
		h.counts = map[int64]int64{}
	}
	h.counts[us] += count
	h.n += count
}

// quantile is the nearest-rank q-quantile (0 < q ≤ 1); 0 when h is empty.
func (h *histogram) quantile(q float64) time.Duration {
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
	return 0
}

// uncorrect undoes wrk's coordinated-omission correction, as suite 11 does (see
// load/histogram.go): wrk 4 adds, for every sample v ≥ 2·interval, synthetic samples at
// v − interval, v − 2·interval, … while above interval (interval: run time per request per
// connection), so above interval raw[v] = c[v] − c[v + interval]. A closed loop has no
// schedule to correct for; the raw record is what the requests took.
func uncorrect(corrected *histogram, interval int64) (*histogram, error) {
	raw := &histogram{}
	for v, c := range corrected.counts {
		if interval > 0 && v > interval {
			c -= corrected.counts[v+interval]
		}
		if c < 0 {
			return nil, fmt.Errorf("topology: wrk's latency histogram is not the correction of any record (%d µs: %d samples fewer than at %d µs)",
				v, -c, v+interval)
		}
		raw.add(v, c)
	}
	return raw, nil
}

// wrkInterval is the interval wrk's correction used: run time ÷ (requests ÷ connections),
// in integer arithmetic as wrk computes it; 0 when wrk corrected nothing.
func wrkInterval(durationUS, requests, conns int64) int64 {
	if conns <= 0 || requests/conns == 0 {
		return 0
	}
	return durationUS / (requests / conns)
}

// median of xs (the mean of the middle two for an even count); NaN for none.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
