package report

import (
	"fmt"
	"strings"

	"usersvc/tests/performance/perfkit"
)

// headlineRatios come first in the summary, in this order; their targets are in the issue.
var headlineRatios = []struct{ name, meaning, target string }{
	{"repo_get_vs_pgx", "users repository (GORM + retry/breaker/deadline layers) get-by-id throughput / raw pgx, same SQL", "≥ 0.90×"},
	{"repo_create_vs_pgx", "users repository create (user + event, one transaction) throughput / raw pgx", "≥ 0.90×"},
	{"http_get_vs_pgbench", "HTTP GET /users/{id} throughput (wrk) / pgbench get-by-id script, same clients", "≥ 0.50×"},
	{"http_create_vs_pgbench", "HTTP POST /users throughput (wrk) / pgbench insert script, same clients", "≥ 0.80×"},
}

func markdown(r *Run, charts map[string][]string) string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	w("# Performance report %s\n\n", r.ID)
	w("Profile **%s** (%d seeded users, %d events), commit `%s`, started %s UTC, took %s.\n\n",
		r.Profile.Name, r.Profile.Users, r.Profile.Users*r.Profile.EventsPerUser, r.Commit,
		r.Started.UTC().Format("2006-01-02 15:04:05"), r.Finished.Sub(r.Started).Round(1e9))
	w("Ratios compare the service with a baseline measured in this run, on the same database, pool " +
		"size and protocol mode; they are what to compare across runs. Absolute times depend on how busy " +
		"the machine was.\n\n")

	writeSummary(&b, r)
	if len(r.Errors) > 0 {
		w("## Suites that failed\n\n")
		for _, id := range sortedKeys(r.Errors) {
			w("- **%s**: %s\n", id, r.Errors[id])
		}
		w("\n")
	}
	writeComparison(&b, r.Comparison)
	for _, s := range r.Suites {
		writeSuite(&b, s, charts)
	}
	w("## Machine and configuration\n\n")
	writeKV(&b, "Machine", r.Machine)
	writeKV(&b, "Configuration of the app and the baselines", r.Config)
	w("Files: `results.json` (every metric, target and ratio), `%s` (Go benchmark output, benchstat "+
		"format), charts as PNG and SVG", or(r.BenchFile, "bench.txt"))
	if r.Comparison != nil && r.Comparison.BenchstatFile != "" {
		w(", `%s` (benchstat against the previous run)", r.Comparison.BenchstatFile)
	}
	w(".\n")
	return b.String()
}

func writeSummary(b *strings.Builder, r *Run) {
	ratios := r.Ratios()
	fmt.Fprintf(b, "## Summary\n\n| ratio | meaning | value | target |\n|---|---|---|---|\n")
	for _, h := range headlineRatios {
		v, ok := ratios[h.name]
		val := "not measured"
		if ok {
			val = fmt.Sprintf("%.2f×", v)
		}
		fmt.Fprintf(b, "| `%s` | %s | **%s** | %s |\n", h.name, h.meaning, val, h.target)
	}
	fmt.Fprintf(b, "\n### Targets\n\n| suite | target | want | got | status |\n|---|---|---|---|---|\n")
	for _, s := range r.Suites {
		for _, t := range s.Targets {
			fmt.Fprintf(b, "| %s | %s | %s | %s | %s |\n", s.ID, t.Name, t.Want, or(t.Got, "–"), statusText(t))
		}
	}
	fmt.Fprintf(b, "\n")
	var images []string
	for _, s := range r.Suites {
		for _, c := range s.Charts {
			images = append(images, fmt.Sprintf("![%s](%s.png)", c.Title, c.Name))
		}
	}
	if len(images) > 0 {
		fmt.Fprintf(b, "### Charts\n\n%s\n\n", strings.Join(images, "\n"))
	}
}

func statusText(t perfkit.Target) string {
	switch {
	case t.NotMeasured != "":
		return "not measured: " + t.NotMeasured
	case t.Met:
		return "**met**"
	}
	return "**not met** (" + or(t.Gap, "missed") + ")"
}

func writeComparison(b *strings.Builder, c *Comparison) {
	fmt.Fprintf(b, "## Compared with the previous run\n\n")
	if c == nil {
		fmt.Fprintf(b, "No earlier run of this profile in perf/results: nothing to compare with.\n\n")
		return
	}
	fmt.Fprintf(b, "Previous run: `%s`. A ratio that fell more than %.0f%%, another number that got "+
		"more than %.0f%% worse, or a benchmark significantly slower (Mann-Whitney U, p < 0.05) and by "+
		"more than that is flagged (a latency also needs to move by more than 1 ms). **%d regression(s).**\n\n", c.Previous, ratioNoise*100, metricNoise*100, c.Regressions)
	writeDeltas(b, "Ratios", c.Ratios, false)
	writeDeltas(b, "Other numbers that moved beyond noise", c.Metrics, true)
	writeDeltas(b, "Benchmarks benchstat finds slower", c.BenchRegressions, false)
	if c.BenchstatFile != "" {
		fmt.Fprintf(b, "Full benchstat output: `%s`.\n\n", c.BenchstatFile)
	}
}

func writeDeltas(b *strings.Builder, title string, ds []Delta, onlyFlagged bool) {
	var rows []string
	for _, d := range ds {
		if onlyFlagged && !d.Regression {
			continue
		}
		flag := ""
		if d.Regression {
			flag = "**regression**"
		}
		rows = append(rows, fmt.Sprintf("| %s | %.4g | %.4g | %+.1f%% | %s %s |", d.Name, d.Old, d.New, d.ChangePct, flag, d.Note))
	}
	if len(rows) == 0 {
		return
	}
	fmt.Fprintf(b, "%s:\n\n| name | previous | this run | change | |\n|---|---|---|---|---|\n%s\n\n", title, strings.Join(rows, "\n"))
}

func writeSuite(b *strings.Builder, s perfkit.Suite, charts map[string][]string) {
	fmt.Fprintf(b, "## %s. %s\n\n%s\n\n", s.ID, s.Title, s.Summary)
	for _, c := range s.Charts {
		if files := charts[c.Name]; len(files) > 0 {
			fmt.Fprintf(b, "![%s](%s)\n\n", c.Title, files[0])
		}
	}
	for _, t := range s.Tables {
		writeTable(b, t)
	}
	if len(s.Targets) > 0 {
		fmt.Fprintf(b, "Targets:\n\n")
		for _, t := range s.Targets {
			fmt.Fprintf(b, "- %s %s: got %s — %s\n", t.Name, t.Want, or(t.Got, "–"), statusText(t))
		}
		fmt.Fprintf(b, "\n")
	}
	for _, n := range s.Notes {
		fmt.Fprintf(b, "- %s\n", n)
	}
	if len(s.Notes) > 0 {
		fmt.Fprintf(b, "\n")
	}
	if len(s.Files) > 0 {
		fmt.Fprintf(b, "Files: `%s`\n\n", strings.Join(s.Files, "`, `"))
	}
}

func writeTable(b *strings.Builder, t perfkit.Table) {
	if t.Caption != "" {
		fmt.Fprintf(b, "%s:\n\n", t.Caption)
	}
	fmt.Fprintf(b, "| %s |\n|%s\n", strings.Join(t.Header, " | "), strings.Repeat("---|", len(t.Header)))
	for _, row := range t.Rows {
		fmt.Fprintf(b, "| %s |\n", strings.Join(row, " | "))
	}
	fmt.Fprintf(b, "\n")
}

func writeKV(b *strings.Builder, title string, m map[string]string) {
	fmt.Fprintf(b, "%s:\n\n| | |\n|---|---|\n", title)
	for _, k := range sortedKeys(m) {
		fmt.Fprintf(b, "| %s | %s |\n", k, m[k])
	}
	fmt.Fprintf(b, "\n")
}

func or(s, fallback string) string {
	if s == "" {
		return fallback
	}
	return s
}

// Summary is the short table `make perf` prints: the headline ratios and every target.
func Summary(r *Run, dir string) string {
	var b strings.Builder
	ratios := r.Ratios()
	fmt.Fprintf(&b, "\nperf %s (%s profile)\n\n", r.ID, r.Profile.Name)
	for _, h := range headlineRatios {
		v := "not measured"
		if x, ok := ratios[h.name]; ok {
			v = fmt.Sprintf("%.2f×", x)
		}
		fmt.Fprintf(&b, "  %-24s %-14s target %s\n", h.name, v, h.target)
	}
	fmt.Fprintf(&b, "\n")
	met, missed, unmeasured := 0, 0, 0
	for _, s := range r.Suites {
		for _, t := range s.Targets {
			st := status(t)
			switch st {
			case "met":
				met++
			case "not met":
				missed++
			default:
				unmeasured++
			}
			fmt.Fprintf(&b, "  %-13s %-62.62s %-12s %s\n", st, t.Name+" "+t.Want, or(t.Got, "–"), t.Gap)
		}
	}
	fmt.Fprintf(&b, "\n  targets: %d met, %d not met, %d not measured\n", met, missed, unmeasured)
	if r.Comparison != nil {
		fmt.Fprintf(&b, "  vs previous run %s: %d regression(s)\n", r.Comparison.Previous, r.Comparison.Regressions)
	}
	for _, id := range sortedKeys(r.Errors) {
		fmt.Fprintf(&b, "  FAILED %s: %s\n", id, r.Errors[id])
	}
	fmt.Fprintf(&b, "\n  report: %s/report.md\n", dir)
	return b.String()
}
