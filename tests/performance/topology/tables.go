package topology

import (
	"fmt"
	"math"
	"os/exec"
	"strings"
	"time"

	"usersvc/tests/performance/load"
	"usersvc/tests/performance/perfkit"
)

func execOutput(name string, args ...string) (string, error) {
	out, err := exec.Command(name, args...).Output()
	return string(out), err
}

func f0(v float64) string {
	if math.IsNaN(v) {
		return "–"
	}
	return fmt.Sprintf("%.0f", v)
}

func f2(v float64) string {
	if math.IsNaN(v) {
		return "–"
	}
	return fmt.Sprintf("%.2f", v)
}

func us(d time.Duration) float64 { return float64(d) / 1e3 }
func ms(d time.Duration) float64 { return float64(d) / 1e6 }

// pgSeries are the per-round values of a pgbench case.
func (x *suite) pgSeries(key string, f func(pgbenchResult) float64) []float64 {
	var out []float64
	for _, r := range x.pg[key] {
		out = append(out, f(r))
	}
	return out
}

// httpSeries are the per-round values of an HTTP case.
func (x *suite) httpSeries(key string, f func(httpSample) float64) []float64 {
	var out []float64
	for _, r := range x.http[key] {
		out = append(out, f(r))
	}
	return out
}

// cpuCells are the median CPU split of samples: total, service, PgBouncer, generator, rest.
func cpuCells(splits []cpuSplit) []string {
	var total, service, pooler, generator, rest []float64
	for _, c := range splits {
		if !c.ok {
			continue
		}
		total, service, pooler = append(total, us(c.total)), append(service, us(c.service)), append(pooler, us(c.pooler))
		generator, rest = append(generator, us(c.generator)), append(rest, us(c.rest))
	}
	cells := []string{f0(median(total)), f0(median(service)), f0(median(pooler)), f0(median(generator)), f0(median(rest))}
	for i := range cells {
		if cells[i] == "0" && i > 0 && i < 3 { // no such process in the path
			cells[i] = "–"
		}
	}
	return cells
}

func (x *suite) tables() {
	for _, group := range httpCases {
		for _, c := range group {
			key := c.key()
			x.higher("http_"+key+"_rps", median(x.httpSeries(key, rpsOf)))
			x.metric("http_"+key+"_p99_ms", median(x.httpSeries(key, p99Of)))
			x.metric("cpu_us_per_"+key, median(cpuTotals(x.httpCPU(key))))
		}
	}
	x.pgbenchTable()
	x.poolerTable()
	x.replicaTable()
	x.cpuTable()
	x.targets()
	x.notes()
}

func (x *suite) pgbenchTable() {
	t := perfkit.Table{
		Caption: fmt.Sprintf("pgbench -S (select only, scale 1), -T %d, directly and through PgBouncer (transaction mode): "+
			"transactions per second, pgbench's average latency, and the machine's CPU per transaction (of which PgBouncer's "+
			"own process). At %d clients the two CPUs are busy (saturated direct; through PgBouncer each transaction also "+
			"waits for the extra hop), so the ratio is mostly the cost in CPU; pgbench's average latency there is about "+
			"clients ÷ TPS. At 1 client nothing queues and the added latency is the extra hop", wholeSeconds(x.plan.dur), pgbenchClients),
		Header: []string{"-M", "clients", "direct TPS", "PgBouncer TPS", "PgBouncer ÷ direct", "direct latency ms",
			"PgBouncer latency ms", "added latency µs", "CPU µs/tx direct", "CPU µs/tx via PgBouncer", "of which PgBouncer µs"},
	}
	tps := func(r pgbenchResult) float64 { return r.tps }
	lat := func(r pgbenchResult) float64 { return r.latencyMS }
	cpu := func(r pgbenchResult) float64 { return us(r.cpu.total) }
	pgb := func(r pgbenchResult) float64 { return us(r.cpu.pooler) }
	for _, c := range pgCases {
		if c.pooler {
			continue
		}
		d := c.key()
		pc := pgCase{c.mode, c.clients, true}
		p := pc.key()
		row := []string{c.mode, fmt.Sprint(c.clients), f0(median(x.pgSeries(d, tps))), "", "", f2(median(x.pgSeries(d, lat))), "", "",
			f0(median(x.pgSeries(d, cpu))), "", ""}
		x.higher("pgbench_select_"+d+"_tps", median(x.pgSeries(d, tps)))
		x.metric("pgbench_select_"+d+"_latency_ms", median(x.pgSeries(d, lat)))
		if _, ok := x.pg[p]; !ok {
			for _, i := range []int{3, 4, 6, 7, 9, 10} {
				row[i] = "–"
			}
			row[3] = "impossible (named statements)"
			t.Rows = append(t.Rows, row)
			continue
		}
		added := (median(x.pgSeries(p, lat)) - median(x.pgSeries(d, lat))) * 1e3
		row[3], row[4] = f0(median(x.pgSeries(p, tps))), ratioCell(x.pgSeries(p, tps), x.pgSeries(d, tps))
		row[6], row[7] = f2(median(x.pgSeries(p, lat))), f0(added)
		row[9], row[10] = f0(median(x.pgSeries(p, cpu))), f0(median(x.pgSeries(p, pgb)))
		t.Rows = append(t.Rows, row)
		x.higher("pgbench_select_"+p+"_tps", median(x.pgSeries(p, tps)))
		x.metric("pgbench_select_"+p+"_latency_ms", median(x.pgSeries(p, lat)))
		x.metric(fmt.Sprintf("pgbouncer_added_latency_us_%s_c%d", c.mode, c.clients), added)
		x.metric(fmt.Sprintf("pgbouncer_cpu_us_per_tx_%s_c%d", c.mode, c.clients), median(x.pgSeries(p, pgb)))
		if c.clients == pgbenchClients {
			x.higher(fmt.Sprintf("ratio.pgbouncer_pgbench_%s_vs_direct", c.mode), median(x.pgSeries(p, tps))/median(x.pgSeries(d, tps)))
		}
	}
	x.s.Tables = append(x.s.Tables, t)
}

var (
	rpsOf = func(s httpSample) float64 { return s.res.RPS() }
	p50Of = func(s httpSample) float64 { return ms(s.res.Latency().Quantile(0.5)) }
	p99Of = func(s httpSample) float64 { return ms(s.res.Latency().Quantile(0.99)) }
)

// httpRow is the cells every HTTP table shares: req/s, ratio to base, p50, p99, errors.
func (x *suite) httpRow(key, base string) []string {
	var errs int64
	for _, s := range x.http[key] {
		errs += s.res.Errors()
	}
	ratio := "1"
	if key != base {
		ratio = ratioCell(x.httpSeries(key, rpsOf), x.httpSeries(base, rpsOf))
	}
	return []string{f0(median(x.httpSeries(key, rpsOf))), ratio, f2(median(x.httpSeries(key, p50Of))),
		f2(median(x.httpSeries(key, p99Of))), fmt.Sprint(errs)}
}

func (x *suite) httpCPU(key string) []cpuSplit {
	var out []cpuSplit
	for _, s := range x.http[key] {
		out = append(out, s.res.cpu)
	}
	return out
}

func (x *suite) poolerTable() {
	t := perfkit.Table{
		Caption: fmt.Sprintf("The service (pool %d) under wrk (%d connections, closed loop, -d %ds) in three configurations; "+
			"p50 and p99 from wrk's record without its coordinated-omission correction; CPU µs per request, split by process",
			x.env.PoolSize, x.env.PoolSize, wholeSeconds(x.plan.dur)),
		Header: []string{"Operation", "Configuration", "req/s", "÷ direct", "p50 ms", "p99 ms", "errors",
			"CPU µs/request", "service µs", "PgBouncer µs", "wrk µs", "PostgreSQL + rest µs"},
	}
	parts := perfkit.Table{
		Caption: "The pooler configuration's cost taken apart: exec mode alone (the same direct connection with " +
			"database.pooler=transaction), then PgBouncer's hop on top of it; ratios of req/s (per-round range in brackets)",
		Header: []string{"Operation", "exec mode ÷ default", "PgBouncer ÷ exec mode", "PgBouncer ÷ default",
			"service CPU µs: default / exec mode / PgBouncer"},
	}
	for _, op := range []string{"get", "post"} {
		base := httpCase{op, cfgDirect}.key()
		for _, cfg := range []string{cfgDirect, cfgExec, cfgPooler} {
			key := httpCase{op, cfg}.key()
			row := append([]string{opLabels[op], cfgLabels[cfg]}, x.httpRow(key, base)...)
			t.Rows = append(t.Rows, append(row, cpuCells(x.httpCPU(key))...))
		}
		exec, pooler := httpCase{op, cfgExec}.key(), httpCase{op, cfgPooler}.key()
		var svcCPU []string
		for _, k := range []string{base, exec, pooler} {
			svcCPU = append(svcCPU, cpuCells(x.httpCPU(k))[1])
		}
		parts.Rows = append(parts.Rows, []string{opLabels[op],
			ratioCell(x.httpSeries(exec, rpsOf), x.httpSeries(base, rpsOf)),
			ratioCell(x.httpSeries(pooler, rpsOf), x.httpSeries(exec, rpsOf)),
			ratioCell(x.httpSeries(pooler, rpsOf), x.httpSeries(base, rpsOf)),
			strings.Join(svcCPU, " / ")})
		x.higher("ratio.exec_mode_http_"+op+"_vs_direct", median(x.httpSeries(exec, rpsOf))/median(x.httpSeries(base, rpsOf)))
		x.higher("ratio.pgbouncer_http_"+op+"_vs_exec_mode", median(x.httpSeries(pooler, rpsOf))/median(x.httpSeries(exec, rpsOf)))
		x.higher("ratio.pgbouncer_http_"+op+"_vs_direct", median(x.httpSeries(pooler, rpsOf))/median(x.httpSeries(base, rpsOf)))
	}
	x.s.Tables = append(x.s.Tables, t, parts)
}

func cpuTotals(splits []cpuSplit) []float64 {
	var out []float64
	for _, c := range splits {
		if c.ok {
			out = append(out, us(c.total))
		}
	}
	return out
}

// replicaShare is the share of the reads of key's runs that the replica served (NaN: none
// counted).
func (x *suite) replicaShare(key string) float64 {
	var p, r float64
	for _, s := range x.http[key] {
		p, r = p+s.primary, r+s.replica
	}
	if p+r == 0 {
		return math.NaN()
	}
	return r / (p + r)
}

func (x *suite) replicaTable() {
	t := perfkit.Table{
		Caption: fmt.Sprintf("The service direct to the primary, without and with database.replicas = the standby "+
			"(asynchronous, on the same machine): wrk %d connections, -d %ds. \"Served by the replica\": of the reads that "+
			"could go to a replica (usersvc_db_reads_served_total), the replica's share. With a replica each POST also "+
			"reads pg_current_wal_lsn() after its commit for the Consistency-Token", x.env.PoolSize, wholeSeconds(x.plan.dur)),
		Header: []string{"Operation", "Replicas", "req/s", "÷ no replica", "p50 ms", "p99 ms", "errors",
			"served by the replica", "CPU µs/request", "service µs", "wrk µs", "PostgreSQL + rest µs"},
	}
	for _, op := range []string{"get", "list", "post"} {
		base := httpCase{op, cfgDirect}.key()
		for i, cfg := range []string{cfgDirect, cfgReplica} {
			key := httpCase{op, cfg}.key()
			row := append([]string{opLabels[op], fmt.Sprint(i)}, x.httpRow(key, base)...)
			share := "–"
			if cfg == cfgReplica && op != "post" {
				v := x.replicaShare(key)
				share = fmt.Sprintf("%.1f%%", 100*v)
				x.info("replica_share_"+op+"_pct", 100*v)
			}
			cpu := cpuCells(x.httpCPU(key))
			t.Rows = append(t.Rows, append(append(row, share), cpu[0], cpu[1], cpu[3], cpu[4]))
		}
		x.higher("ratio.replica_http_"+op+"_vs_none",
			median(x.httpSeries(httpCase{op, cfgReplica}.key(), rpsOf))/median(x.httpSeries(base, rpsOf)))
	}
	x.s.Tables = append(x.s.Tables, t)
}

func (x *suite) cpuTable() {
	t := perfkit.Table{
		Caption: "pgbench's CPU per transaction by process (µs): total busy CPU of the machine, pgbench, PgBouncer, and " +
			"the rest (PostgreSQL's backends and anything else)",
		Header: []string{"-M", "clients", "path", "total µs", "pgbench µs", "PgBouncer µs", "PostgreSQL + rest µs"},
	}
	for _, c := range pgCases {
		var splits []cpuSplit
		for _, r := range x.pg[c.key()] {
			splits = append(splits, r.cpu)
		}
		cells := cpuCells(splits)
		path := "direct"
		if c.pooler {
			path = "PgBouncer"
		}
		t.Rows = append(t.Rows, []string{c.mode, fmt.Sprint(c.clients), path, cells[0], cells[3], cells[2], cells[4]})
	}
	x.s.Tables = append(x.s.Tables, t)
}

func (x *suite) targets() {
	var errs int64
	var where []string
	for _, group := range httpCases {
		for _, c := range group {
			for _, s := range x.http[c.key()] {
				if n := s.res.Errors(); n > 0 {
					errs += n
					where = append(where, fmt.Sprintf("%s %s: %d", c.op, c.cfg, n))
				}
			}
		}
	}
	tg := perfkit.Target{Name: "every request of every configuration answered below 400", Want: "0 errors",
		Got: fmt.Sprint(errs), Met: errs == 0}
	if errs > 0 {
		tg.Gap = strings.Join(where, ", ")
	}
	x.s.Targets = append(x.s.Targets, tg)
	for _, op := range []string{"get", "list"} {
		v := 100 * x.replicaShare(httpCase{op, cfgReplica}.key())
		tg := perfkit.Target{Name: fmt.Sprintf("with 1 replica, %s reads served by the replica", opLabels[op]),
			Want: fmt.Sprintf("≥ %.0f%%", minReplicaPct), Got: fmt.Sprintf("%.1f%%", v), Met: v >= minReplicaPct}
		if !tg.Met {
			tg.Gap = "the replica was left out (stale or failing): these runs measured the primary"
		}
		x.s.Targets = append(x.s.Targets, tg)
	}
}

func (x *suite) notes() {
	tps := func(r pgbenchResult) float64 { return r.tps }
	lat := func(r pgbenchResult) float64 { return r.latencyMS }
	pgb := func(r pgbenchResult) float64 { return us(r.cpu.pooler) }
	d, p := pgCase{"extended", 1, false}.key(), pgCase{"extended", 1, true}.key()
	d4, p4 := pgCase{"extended", pgbenchClients, false}.key(), pgCase{"extended", pgbenchClients, true}.key()
	x.s.Notes = append(x.s.Notes,
		fmt.Sprintf("PgBouncer per query (pgbench -S -M extended): %.0f µs more latency at 1 client (%.3f → %.3f ms), "+
			"%.0f µs of PgBouncer's own CPU per transaction at %d clients, where throughput fell to %.2f× of direct.",
			(median(x.pgSeries(p, lat))-median(x.pgSeries(d, lat)))*1e3, median(x.pgSeries(d, lat)), median(x.pgSeries(p, lat)),
			median(x.pgSeries(p4, pgb)), pgbenchClients, median(x.pgSeries(p4, tps))/median(x.pgSeries(d4, tps))),
		"The service's default configuration (pgx's cache of prepared statements) cannot go through PgBouncer in transaction "+
			"mode; database.pooler=transaction switches to exec mode (an unnamed statement parsed and planned on every "+
			"query) and sets statement_timeout with SET LOCAL in each transaction. The middle row measures that switch "+
			"without PgBouncer, so \"PgBouncer ÷ exec mode\" is the hop alone.",
		"One machine: the standby, PgBouncer, the primary, the service and wrk share two CPUs. A replica here cannot add "+
			"capacity; the replica rows show what routing reads to it costs (a second pool, the staleness sampling, "+
			"the standby's backends instead of the primary's) and, for POST, the extra pg_current_wal_lsn() read per write. "+
			"On separate hosts the replica's reads would leave the primary's CPUs.",
		fmt.Sprintf("The four service configurations run side by side for the whole suite, each idle (background "+
			"polling only) while another is measured; the cluster's users: %d seeded (as the run's database), plus those "+
			"the POST runs add. wrk: %s; every command and report is in topology/runs.txt.", x.data.Users, load.WrkVersion(x.wrk)),
	)
}

// metric, higher and info record a metric unless it is not a number (a series without
// samples, /proc unreadable): results.json cannot hold NaN.
func (x *suite) metric(key string, v float64) {
	if finite(v) {
		x.s.Metric(key, v)
	}
}

func (x *suite) higher(key string, v float64) {
	if finite(v) {
		x.s.Higher(key, v)
	}
}

func (x *suite) info(key string, v float64) {
	if finite(v) {
		x.s.Info(key, v)
	}
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
