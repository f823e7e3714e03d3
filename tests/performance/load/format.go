package load

import (
	"fmt"
	"slices"
	"strconv"
	"time"

	"usersvc/tests/performance/perfkit"
)

// msOf is d in milliseconds.
func msOf(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// ms formats d in milliseconds for a table cell.
func ms(d time.Duration) string { return fmt.Sprintf("%.2f", msOf(d)) }

// rps formats a rate for a table cell.
func rps(v float64) string { return fmt.Sprintf("%.0f", v) }

// pct formats a fraction as a percentage.
func pct(v float64) string { return fmt.Sprintf("%.2f%%", 100*v) }

func itoa(n int) string { return strconv.Itoa(n) }

// perRequest divides a pool counter's change by the requests of the step.
func perRequest(v float64, requests int) float64 {
	if requests == 0 {
		return 0
	}
	return v / float64(requests)
}

// latencyCells are the latency columns every load table shares: p50, p95, p99, p99.9, max.
func latencyCells(t *tally) []string {
	return []string{ms(t.q(0.50)), ms(t.q(0.95)), ms(t.q(0.99)), ms(t.q(0.999)), ms(t.m.Latencies.Max)}
}

var latencyHeader = []string{"p50 ms", "p95 ms", "p99 ms", "p99.9 ms", "max ms"}

// errorsCell is the error count, with what the unexpected answers were.
func errorsCell(t *tally) string {
	if t.bad == 0 {
		return "0"
	}
	return fmt.Sprintf("%d (%s)", t.bad, t.problemText())
}

// series returns the series labelled label in m, creating it.
func series(m map[string]*perfkit.Series, label string) *perfkit.Series {
	if s, ok := m[label]; ok {
		return s
	}
	s := &perfkit.Series{Label: label}
	m[label] = s
	return s
}

// ordered lists m's series in the order of labels, skipping missing ones.
func ordered(m map[string]*perfkit.Series, labels ...string) []perfkit.Series {
	var out []perfkit.Series
	for _, l := range labels {
		if s, ok := m[l]; ok {
			out = append(out, *s)
		}
	}
	return out
}

func sortedKeys[V any](m map[int]V) []int {
	keys := make([]int, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func maxOf(xs []int) int {
	m := 0
	for _, x := range xs {
		m = max(m, x)
	}
	return m
}
