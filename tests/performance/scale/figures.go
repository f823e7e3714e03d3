package scale

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"usersvc/tests/performance/perfkit"
)

// Row is one operation measured on every table, smallest table first.
type Row struct {
	Key   string
	Name  string
	Bound float64
	Why   string
	Cells []Cell
}

// Cell is one operation on one table.
type Cell struct {
	P50, P95 time.Duration
	N        int    // calls measured
	Detail   string // how this table's call differs ("9,475 deep"), or ""
}

// Sizes are the table sizes for a run whose own database has largest users: a hundredth, a
// tenth, and itself (10k, 100k and 1M in the full profile). Sizes below minUsers are left
// out.
func Sizes(largest int) []int {
	var out []int
	for _, n := range []int{largest / 100, largest / 10, largest} {
		if n >= minUsers && !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}

// minUsers is the smallest table worth measuring: a full page after the first.
const minUsers = 60

// DeepestPage is the depth of the page the suite reads on a table of live users: want, or,
// when the table is too small for a full page that deep, the deepest full page it has.
func DeepestPage(want, live, page int) int {
	return max(min(want, live-page), 1)
}

// Growth is the largest table's median over the smallest's; 0 when either is missing.
func (r Row) Growth() float64 {
	if len(r.Cells) < 2 || r.Cells[0].P50 <= 0 {
		return 0
	}
	return float64(r.Cells[len(r.Cells)-1].P50) / float64(r.Cells[0].P50)
}

// Target states the row's growth against its bound; sizes label the smallest and largest
// tables.
func (r Row) Target(sizes []int) perfkit.Target {
	t := perfkit.Target{Name: fmt.Sprintf("%s, median at %s users ÷ at %s", r.Name,
		SizeLabel(sizes[len(sizes)-1]), SizeLabel(sizes[0])), Want: fmt.Sprintf("≤ %g×", r.Bound)}
	g := r.Growth()
	if g == 0 {
		t.NotMeasured = "fewer than two table sizes measured"
		return t
	}
	t.Got, t.Met = times(g), g <= r.Bound
	if !t.Met {
		t.Gap = fmt.Sprintf("%s over", times(g-r.Bound))
	}
	return t
}

// fill writes the measured rows into s: the table, the chart, metrics and targets.
func fill(s *perfkit.Suite, sets []*dataset, rows []Row) {
	sizes := make([]int, len(sets))
	for i, d := range sets {
		sizes[i] = d.Users
	}
	small, large := SizeLabel(sizes[0]), SizeLabel(sizes[len(sizes)-1])
	t := perfkit.Table{Caption: "Repository call latency by table size: median / p95, ms (one client)",
		Header: append(append([]string{"operation"}, labels(sizes)...), large+" ÷ "+small, "target")}
	tables := []string{"users in the table (live)"}
	for _, d := range sets {
		tables = append(tables, fmt.Sprintf("%s (%s)", grouped(d.Total), grouped(d.Live)))
	}
	t.Rows = append(t.Rows, append(tables, "", ""))
	chart := perfkit.Chart{Name: "latency-vs-table-size", Title: "Median latency by table size",
		XLabel: "users in the table", YLabel: "median ms", LogX: true, LogY: true}
	minN, maxN := 0, 0
	for _, r := range rows {
		cells := []string{r.Name}
		series := perfkit.Series{Label: r.Name}
		for i, c := range r.Cells {
			cell := ms(c.P50) + " / " + ms(c.P95)
			if c.Detail != "" {
				cell += " (" + c.Detail + ")"
			}
			cells = append(cells, cell)
			series.Points = append(series.Points, perfkit.Point{X: float64(sizes[i]), Y: msOf(c.P50)})
			s.Metric(fmt.Sprintf("scale_%s_%d_p50_ms", r.Key, sizes[i]), msOf(c.P50))
			s.Metric(fmt.Sprintf("scale_%s_%d_p95_ms", r.Key, sizes[i]), msOf(c.P95))
			if minN == 0 || c.N < minN {
				minN = c.N
			}
			maxN = max(maxN, c.N)
		}
		tg := r.Target(sizes)
		cells = append(cells, or(tg.Got, "–"), tg.Want+" "+verdict(tg))
		t.Rows = append(t.Rows, cells)
		chart.Series = append(chart.Series, series)
		if g := r.Growth(); g > 0 {
			s.Metric("scale_"+r.Key+"_growth", g)
		}
		s.Targets = append(s.Targets, tg)
		s.Notes = append(s.Notes, fmt.Sprintf("%s, bound %s: %s.", r.Name, tg.Want, r.Why))
	}
	s.Tables = append(s.Tables, t)
	s.Charts = append(s.Charts, chart)
	s.Notes = append(s.Notes, fmt.Sprintf("Calls measured per cell: %d to %d (fewer for slow calls: "+
		"each operation stops after its time budget once it has its minimum).", minN, maxN))
	s.Notes = append(s.Notes, "A cell's words in brackets say how its call differs from the largest "+
		"table's: the deep page's depth where a smaller table has no full page that deep (its deepest full "+
		"page is read instead), or how many users share the searched prefix.")
}

func verdict(t perfkit.Target) string {
	switch {
	case t.NotMeasured != "":
		return "(not measured)"
	case t.Met:
		return "met"
	}
	return "**not met**"
}

// SizeLabel names a table size briefly: 200, 2k, 20k, 1M, 1.5M.
func SizeLabel(n int) string {
	switch {
	case n >= 1_000_000 && n%1_000_000 == 0:
		return strconv.Itoa(n/1_000_000) + "M"
	case n >= 1_000_000:
		return strconv.FormatFloat(float64(n)/1e6, 'f', -1, 64) + "M"
	case n >= 1_000 && n%1_000 == 0:
		return strconv.Itoa(n/1_000) + "k"
	}
	return grouped(n)
}

func labels(sizes []int) []string {
	out := make([]string, len(sizes))
	for i, n := range sizes {
		out[i] = SizeLabel(n)
	}
	return out
}

func joinSizes(sizes []int) string {
	l := labels(sizes)
	if len(l) < 2 {
		return strings.Join(l, "")
	}
	return strings.Join(l[:len(l)-1], ", ") + " and " + l[len(l)-1]
}

// grouped writes n with thousands separators: 500,000.
func grouped(n int) string {
	s := strconv.Itoa(n)
	if n < 0 {
		return "-" + grouped(-n)
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

func times(v float64) string { return fmt.Sprintf("%.2f×", v) }

func msOf(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// ms formats d in milliseconds with three significant digits (no exponent).
func ms(d time.Duration) string {
	v := msOf(d)
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	case v >= 1:
		return fmt.Sprintf("%.2f", v)
	}
	return fmt.Sprintf("%.3f", v)
}

func or(s, fallback string) string {
	if s == "" {
		return fallback
	}
	return s
}
