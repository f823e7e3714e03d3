package load

import (
	"context"
	"errors"
	"fmt"
	"time"

	"usersvc/tests/performance/perfkit"
)

// p99Clients are the client counts of the relative latency target.
var p99Clients = []int{20, 100}

// maxP99VsPgbench is that target: the HTTP p99 at most 1.5× pgbench's p99 for the same SQL
// at the same client count, in the same run.
const maxP99VsPgbench = 1.5

// pgTail is pgbench's side of one latency comparison: a run with every transaction's
// latency, or why there is none.
type pgTail struct {
	res  pgbenchResult
	skip string
}

// pgbenchTails runs pgbench with a per-transaction log for GET's and POST's scripts at each
// of p99Clients. PostgreSQL must accept that many connections; when it does not, the
// comparison is not measured (and says why) rather than failed.
func (x *suite11) pgbenchTails(ctx context.Context) (map[string]map[int]pgTail, error) {
	out := map[string]map[int]pgTail{}
	for _, b := range baselines {
		if b.profile == "" {
			continue
		}
		out[b.key] = map[int]pgTail{}
		for _, c := range p99Clients {
			free, maxConns, err := freeConnections(ctx, x.env.DBURL)
			if err != nil {
				return nil, err
			}
			skip := fmt.Sprintf("PostgreSQL accepts %d more connections (max_connections %d) but pgbench at %d clients needs %d: "+
				"raise max_connections (the cluster scripts/with-postgres starts has 200)", free, maxConns, c, c)
			if free < c {
				out[b.key][c] = pgTail{skip: skip}
				continue
			}
			res, err := runScript(ctx, x.pgbench, x.env, x.sql[b.key], b, x.vars, x.r.t.likePattern(), pgbenchRun{clients: c, logDir: x.logDir})
			switch {
			case errors.Is(err, errTooManyClients): // someone else connected meanwhile
				out[b.key][c] = pgTail{skip: skip}
			case err != nil:
				return nil, err
			default:
				out[b.key][c] = pgTail{res: res}
			}
		}
	}
	return out, nil
}

// tails runs wrk at each of p99Clients for GET and POST and compares its p99 with pgbench's.
func (x *suite11) tails(ctx context.Context, pg map[string]map[int]pgTail) error {
	table := perfkit.Table{
		Caption: fmt.Sprintf("Tail latency at %s clients, closed loops of %s, same SQL: pgbench's percentiles from its "+
			"per-transaction log, wrk's from its record of every request, uncorrected (see the notes); wrk's own p99 (what "+
			"`wrk --latency` prints, corrected) beside them",
			joinInts(p99Clients, " and "), pgbenchDuration(x.env.Profile.Step)),
		Header: []string{"Clients", "Operation", "pgbench TPS", "pgbench p50 ms", "pgbench p99 ms", "wrk req/s", "wrk p50 ms",
			"wrk p99 ms", "wrk p99 ms, corrected", "wrk errors", "HTTP p99 ÷ pgbench p99"},
	}
	for _, c := range p99Clients {
		for _, b := range baselines {
			if b.profile == "" {
				continue
			}
			w, err := x.runWrk(ctx, b, x.wrkRun(b, c, fmt.Sprintf("c%d", c), true))
			if err != nil {
				return err
			}
			if w.raw == nil {
				return fmt.Errorf("load: wrk %s at %d connections printed no latencies", b.label, c)
			}
			row, tg := x.tail(b, c, w, pg[b.key][c])
			table.Rows = append(table.Rows, row)
			x.s.Targets = append(x.s.Targets, tg)
		}
	}
	x.s.Tables = append(x.s.Tables, table)
	x.s.Notes = append(x.s.Notes,
		"wrk corrects its latency percentiles for coordinated omission: for every request slower than twice the run's mean "+
			"interval per connection it adds synthetic samples, as if an open-loop schedule had been missed. Both sides here "+
			"are closed loops with no schedule (a client sends when answered), and pgbench's log holds raw latencies, so the "+
			"targets compare raw percentiles on both sides: the suite has wrk print every latency it recorded and takes the "+
			"correction back out (exactly: a corrected count above the interval is the sum of the raw counts at that value "+
			"and every interval above it).")
	return nil
}

// tail is the table row and the target of one comparison.
func (x *suite11) tail(b baseline, clients int, w WrkResult, p pgTail) ([]string, perfkit.Target) {
	httpP50, httpP99 := w.raw.Quantile(0.5), w.raw.Quantile(0.99)
	x.s.Metric(fmt.Sprintf("http_%s_p99_ms_c%d", b.key, clients), msOf(httpP99))
	row := []string{itoa(clients), b.label, "–", "–", "–", rps(w.RPS()), ms(httpP50), ms(httpP99), ms(w.p99), w.errorsCell(), "–"}
	tg := perfkit.Target{Name: fmt.Sprintf("HTTP p99 vs pgbench's p99, %s at %d clients", b.label, clients),
		Want: fmt.Sprintf("≤ %.1f×, 0 errors", maxP99VsPgbench)}
	if p.skip != "" {
		tg.NotMeasured = p.skip
		return row, tg
	}
	pgP50, pgP99 := p.res.latency.Quantile(0.5), p.res.latency.Quantile(0.99)
	ratio := float64(httpP99) / float64(max(pgP99, time.Microsecond))
	row[2], row[3], row[4], row[10] = rps(p.res.tps), ms(pgP50), ms(pgP99), fmt.Sprintf("**%.2f×**", ratio)
	x.s.Metric(fmt.Sprintf("pgbench_%s_p99_ms_c%d", b.key, clients), msOf(pgP99))
	x.s.Metric(fmt.Sprintf("p99_%s_c%d_vs_pgbench", b.key, clients), ratio)
	tg.Got = fmt.Sprintf("%.2f× (%s vs %s ms), %d errors", ratio, ms(httpP99), ms(pgP99), w.Errors())
	tg.Met = ratio <= maxP99VsPgbench && w.Errors() == 0
	switch {
	case ratio > maxP99VsPgbench:
		tg.Gap = fmt.Sprintf("%.2f× over", ratio-maxP99VsPgbench)
	case w.Errors() > 0:
		tg.Gap = fmt.Sprintf("%d HTTP errors", w.Errors())
	}
	return row, tg
}
