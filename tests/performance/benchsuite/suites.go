package benchsuite

import (
	"fmt"
	"strconv"

	"usersvc/tests/performance/perfkit"
)

// Suites builds suites 1–5 and 10 from the benchmarks of one run. A family missing from set
// (a filtered run) gives no suite.
func Suites(set Set, p perfkit.Profile, poolSize int) []perfkit.Suite {
	var out []perfkit.Suite
	for _, build := range []func(Set, perfkit.Profile, int) (perfkit.Suite, bool){
		crud, lookups, pagination, bulk, queries, transactions,
	} {
		if s, ok := build(set, p, poolSize); ok {
			out = append(out, s)
		}
	}
	return out
}

// vsPgx is GORM's throughput as a share of raw pgx's: pgx time per op over GORM's.
func vsPgx(gorm, pgx *Result) float64 {
	if gorm == nil || pgx == nil || gorm.NsPerOp == 0 {
		return 0
	}
	return pgx.NsPerOp / gorm.NsPerOp
}

// atLeast states a "≥ want×" target.
func atLeast(name string, got, want float64) perfkit.Target {
	t := perfkit.Target{Name: name, Want: "≥ " + Ratio(want), Got: Ratio(got), Met: got >= want}
	if got == 0 {
		t.Got, t.NotMeasured = "–", "the benchmark did not run"
	} else if !t.Met {
		t.Gap = fmt.Sprintf("%.2f× short", want-got)
	}
	return t
}

// gormVsPgxTable is one row per value of key: GORM and pgx time, allocations and the ratio.
// Each ratio is also recorded as metric "ratio.repo_<prefix><value>_vs_pgx".
func gormVsPgxTable(s *perfkit.Suite, set Set, base, key, prefix string) (perfkit.Table, map[string]float64) {
	t := perfkit.Table{
		Caption: "GORM repository vs raw pgx (same SQL), concurrent callers = pool size; time per op is wall time / ops",
		Header:  []string{key, "GORM", "pgx", "GORM/pgx throughput", "GORM allocs/op", "pgx allocs/op", "GORM B/op", "pgx B/op"},
	}
	ratios := map[string]float64{}
	for _, v := range set.Values(base, key) {
		g := set.One(base, map[string]string{key: v, "impl": "gorm"})
		x := set.One(base, map[string]string{key: v, "impl": "pgx"})
		if g == nil || x == nil {
			continue
		}
		r := vsPgx(g, x)
		ratios[v] = r
		s.Higher("ratio.repo_"+prefix+v+"_vs_pgx", r)
		s.Metric(fmt.Sprintf("%s_%s%s_gorm_us", base[len("Benchmark"):], prefix, v), g.NsPerOp/1e3)
		t.Rows = append(t.Rows, []string{v, Dur(g.NsPerOp), Dur(x.NsPerOp), Ratio(r),
			Num(g.AllocsPerOp), Num(x.AllocsPerOp), Num(g.BytesPerOp), Num(x.BytesPerOp)})
	}
	return t, ratios
}

func crud(set Set, _ perfkit.Profile, pool int) (perfkit.Suite, bool) {
	s := perfkit.Suite{ID: "01-crud", Title: "CRUD through the repository: GORM vs raw pgx",
		Summary: fmt.Sprintf("BenchmarkCRUD: create (user + created event, one transaction), get by id, "+
			"update (row lock, version bump, event), soft delete and restore, through the users repository "+
			"(retry, breaker and deadline layers included) and through a raw pgxpool implementation sending "+
			"the same SQL; %d concurrent callers (the pool size) on both sides.", pool)}
	t, r := gormVsPgxTable(&s, set, "BenchmarkCRUD", "op", "")
	if len(t.Rows) == 0 {
		return s, false
	}
	s.Tables = append(s.Tables, t)
	layers(&s, set)
	s.Targets = append(s.Targets,
		atLeast("GORM get-by-id vs raw pgx", r["get"], 0.9),
		atLeast("GORM create vs raw pgx", r["create"], 0.9),
		allocsTarget(set.One("BenchmarkCRUD", map[string]string{"op": "get", "impl": "gorm"}), 50))
	return s, true
}

// allocsTarget states "at most want allocations per repository get" for r.
func allocsTarget(r *Result, want float64) perfkit.Target {
	t := perfkit.Target{Name: "allocations per repository get by id", Want: "≤ " + Num(want)}
	if r == nil {
		t.Got, t.NotMeasured = "–", "the benchmark did not run"
		return t
	}
	t.Got, t.Met = Num(r.AllocsPerOp), r.AllocsPerOp <= want
	if !t.Met {
		t.Gap = Num(r.AllocsPerOp-want) + " over"
	}
	return t
}

// layerOrder is BenchmarkLayers' layers, caller-facing last.
var layerOrder = []string{"pgx", "gorm", "gorm-prepared", "repository"}

// layers adds what each layer between caller and PostgreSQL costs on a get by id.
func layers(s *perfkit.Suite, set Set) {
	base := set.One("BenchmarkLayers", map[string]string{"layer": "pgx"})
	if base == nil {
		return
	}
	t := perfkit.Table{Caption: "What each layer costs, get by id (BenchmarkLayers: raw pgx; plain GORM on the app's " +
		"pool; the same with GORM's PrepareStmt; the repository, i.e. GORM inside the Runner's deadline, breaker, " +
		"retry and metrics)", Header: []string{"layer", "time/op", "over pgx", "throughput vs pgx", "allocs/op", "B/op"}}
	for _, name := range layerOrder {
		r := set.One("BenchmarkLayers", map[string]string{"layer": name})
		if r == nil {
			continue
		}
		t.Rows = append(t.Rows, []string{name, Dur(r.NsPerOp), "+" + Dur(max(0, r.NsPerOp-base.NsPerOp)),
			Ratio(base.NsPerOp / r.NsPerOp), Num(r.AllocsPerOp), Num(r.BytesPerOp)})
		s.Metric("layer_"+name+"_us", r.NsPerOp/1e3)
	}
	s.Tables = append(s.Tables, t)
	gorm := set.One("BenchmarkLayers", map[string]string{"layer": "gorm"})
	repo := set.One("BenchmarkLayers", map[string]string{"layer": "repository"})
	if gorm != nil && repo != nil {
		s.Notes = append(s.Notes, fmt.Sprintf("Plain GORM with database/sql costs %s over raw pgx per get; the "+
			"repository, %s: its get by id is a statement compiled once from the GORM schema and scanned through "+
			"pgx on a pooled connection (db.ByID), inside the deadline, breaker, retry and metrics layers.",
			Dur(gorm.NsPerOp-base.NsPerOp), Dur(repo.NsPerOp-base.NsPerOp)))
	}
}

func lookups(set Set, _ perfkit.Profile, _ int) (perfkit.Suite, bool) {
	s := perfkit.Suite{ID: "02-lookups", Title: "Lookups: username, email (case-insensitive), prefix search",
		Summary: "BenchmarkLookup: exact username, exact email in another case than stored, and a prefix " +
			"search over username or email, GORM repository vs raw pgx. The EXPLAIN table shows the plan " +
			"each query gets on this run's data."}
	t, _ := gormVsPgxTable(&s, set, "BenchmarkLookup", "by", "lookup_")
	if len(t.Rows) == 0 {
		return s, false
	}
	s.Tables = append(s.Tables, t)
	return s, true
}

func pagination(set Set, p perfkit.Profile, _ int) (perfkit.Suite, bool) {
	s := perfkit.Suite{ID: "03-pagination", Title: "Pagination: page sizes and depth, keyset vs OFFSET",
		Summary: "BenchmarkPage: the first keyset page (sort created_at, live users) at sizes 10–100, " +
			"GORM vs pgx. BenchmarkDepth: a 25-row page starting N rows deep, by keyset cursor (through the " +
			"repository) and by OFFSET, on the seeded table."}
	t, r := gormVsPgxTable(&s, set, "BenchmarkPage", "size", "page")
	if len(t.Rows) > 0 {
		s.Tables = append(s.Tables, t)
		s.Targets = append(s.Targets, atLeast("GORM 25-row page vs raw pgx", r["25"], 0.7))
	}
	depth := perfkit.Table{Caption: "A 25-row page N rows deep",
		Header: []string{"depth", "keyset", "OFFSET", "keyset / first keyset page", "OFFSET / keyset"}}
	chart := perfkit.Chart{Name: "pagination-depth", Title: "25-row page N rows deep",
		XLabel: "depth (rows skipped)", YLabel: "time per page (ms)"}
	var keyset, offset perfkit.Series
	keyset.Label, offset.Label = "keyset cursor", "OFFSET"
	var first, worst float64 // worst: the slowest keyset page at depth ≥ 100k
	deepestAt, worstAt := 0, 0
	for _, d := range set.Values("BenchmarkDepth", "depth") {
		k := set.One("BenchmarkDepth", map[string]string{"mode": "keyset", "depth": d})
		o := set.One("BenchmarkDepth", map[string]string{"mode": "offset", "depth": d})
		if k == nil || o == nil {
			continue
		}
		n, _ := strconv.Atoi(d)
		if n == 0 {
			first = k.NsPerOp
		}
		deepestAt = max(deepestAt, n)
		if n >= 100_000 && k.NsPerOp > worst {
			worst, worstAt = k.NsPerOp, n
		}
		keyset.Points = append(keyset.Points, perfkit.Point{X: float64(n), Y: k.NsPerOp / 1e6})
		offset.Points = append(offset.Points, perfkit.Point{X: float64(n), Y: o.NsPerOp / 1e6})
		rel := "–"
		if first > 0 {
			rel = Ratio(k.NsPerOp / first)
		}
		depth.Rows = append(depth.Rows, []string{d, Dur(k.NsPerOp), Dur(o.NsPerOp), rel, Ratio(o.NsPerOp / k.NsPerOp)})
		s.Metric("depth_"+d+"_keyset_us", k.NsPerOp/1e3)
		s.Metric("depth_"+d+"_offset_us", o.NsPerOp/1e3)
	}
	if len(depth.Rows) > 0 {
		s.Tables = append(s.Tables, depth)
		chart.Series = []perfkit.Series{keyset, offset}
		s.Charts = append(s.Charts, chart)
		tg := perfkit.Target{Name: "Keyset page at depth ≥ 100k vs the first page (the slowest such depth)", Want: "≤ 1.5×"}
		switch {
		case first == 0:
			tg.NotMeasured = "no first-page measurement"
		case worstAt == 0:
			tg.NotMeasured = fmt.Sprintf("the %s profile's deepest page is %d rows deep", p.Name, deepestAt)
		default:
			rel := worst / first
			tg.Got, tg.Met = fmt.Sprintf("%s at %d", Ratio(rel), worstAt), rel <= 1.5
			if !tg.Met {
				tg.Gap = fmt.Sprintf("%.2f× over", rel-1.5)
			}
		}
		s.Targets = append(s.Targets, tg)
	}
	return s, len(s.Tables) > 0
}

func bulk(set Set, p perfkit.Profile, _ int) (perfkit.Suite, bool) {
	s := perfkit.Suite{ID: "04-bulk", Title: "Bulk inserts",
		Summary: "BenchmarkBulk: N new users one by one (repository Register, sequential, as a loop in a " +
			"handler would), GORM CreateInBatches, the repository's RegisterBatch (users + events), a pgx " +
			"multi-row INSERT and pgx CopyFrom. Each op inserts N users and checks they are there."}
	t := perfkit.Table{Caption: "Inserting N users", Header: []string{"N", "way", "time", "users/s", "vs pgx multi-row"}}
	var target *perfkit.Target
	for _, n := range set.Values("BenchmarkBulk", "n") {
		multi := set.One("BenchmarkBulk", map[string]string{"n": n, "way": "pgx-multirow"})
		for _, way := range set.Values("BenchmarkBulk", "way") {
			r := set.One("BenchmarkBulk", map[string]string{"n": n, "way": way})
			if r == nil {
				continue
			}
			size, _ := strconv.Atoi(n)
			rel := "–"
			if multi != nil {
				rel = Ratio(multi.NsPerOp / r.NsPerOp)
			}
			t.Rows = append(t.Rows, []string{n, way, Dur(r.NsPerOp), Num(float64(size) / (r.NsPerOp / 1e9)), rel})
			s.Higher("bulk_"+n+"_"+way+"_users_per_s", float64(size)/(r.NsPerOp/1e9))
			if way == "gorm-create-in-batches" && multi != nil {
				tg := atLeast("GORM bulk (CreateInBatches) vs pgx multi-row INSERT, "+n+" users", multi.NsPerOp/r.NsPerOp, 0.8)
				if size < 10_000 {
					tg.NotMeasured = "the target is for 10,000 users; this profile inserts " + n
				}
				target = &tg
				s.Higher("ratio.bulk_"+n+"_vs_pgx", multi.NsPerOp/r.NsPerOp)
			}
		}
	}
	if len(t.Rows) == 0 {
		return s, false
	}
	s.Tables = append(s.Tables, t)
	if target != nil {
		s.Targets = append(s.Targets, *target)
	}
	return s, true
}

func queries(set Set, p perfkit.Profile, _ int) (perfkit.Suite, bool) {
	s := perfkit.Suite{ID: "05-joins", Title: "Events and stats queries, with and without their indexes",
		Summary: fmt.Sprintf("BenchmarkQuery on the seeded data (%d users, %d events): a user's events page "+
			"(user_events_user_id_id_idx) and the stats query, counts plus registrations per day over 30 "+
			"days (users_created_at_id_idx). \"without\" drops the index inside a transaction that is "+
			"rolled back, so the data set is unchanged.", p.Users, p.Users*p.EventsPerUser)}
	t := perfkit.Table{Caption: "Time per query", Header: []string{"query", "with index", "without", "index speed-up"}}
	for _, q := range set.Values("BenchmarkQuery", "q") {
		with := set.One("BenchmarkQuery", map[string]string{"q": q, "index": "with"})
		without := set.One("BenchmarkQuery", map[string]string{"q": q, "index": "without"})
		if with == nil || without == nil {
			continue
		}
		t.Rows = append(t.Rows, []string{q, Dur(with.NsPerOp), Dur(without.NsPerOp), Ratio(without.NsPerOp / with.NsPerOp)})
		s.Metric("query_"+q+"_us", with.NsPerOp/1e3)
		s.Metric("query_"+q+"_noindex_us", without.NsPerOp/1e3)
	}
	if len(t.Rows) == 0 {
		return s, false
	}
	s.Tables = append(s.Tables, t)
	return s, true
}

func transactions(set Set, _ perfkit.Profile, _ int) (perfkit.Suite, bool) {
	s := perfkit.Suite{ID: "10-transactions", Title: "Transactions: multi-operation commits vs single statements",
		Summary: "BenchmarkTx: a user and its event in one transaction (what create does) against one " +
			"autocommit INSERT, and 100 users in one transaction against 100 single-statement commits."}
	t := perfkit.Table{Caption: "Time per op", Header: []string{"kind", "time", "allocs/op"}}
	for _, k := range set.Values("BenchmarkTx", "kind") {
		r := set.One("BenchmarkTx", map[string]string{"kind": k})
		if r == nil {
			continue
		}
		t.Rows = append(t.Rows, []string{k, Dur(r.NsPerOp), Num(r.AllocsPerOp)})
		s.Metric("tx_"+k+"_us", r.NsPerOp/1e3)
	}
	if len(t.Rows) == 0 {
		return s, false
	}
	s.Tables = append(s.Tables, t)
	return s, true
}
