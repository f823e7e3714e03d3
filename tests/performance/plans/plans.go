// Package plans is the query-plan suite: it captures the SQL the users repository really
// sends (a GORM callback, so nothing is retyped by hand) and shows PostgreSQL's plan for each
// statement on the run's seeded data, flagging any sequential scan and any prefix search in
// username order that walks the username index; the prefix searches and the stats are timed
// against their targets.
package plans

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5"
	"gorm.io/gorm"

	"usersvc/modules/users"
	"usersvc/platform/db"
	"usersvc/tests/performance/perfkit"
)

// Suites is the plan suite.
func Suites() []perfkit.Runner {
	return []perfkit.Runner{{ID: "02b-query-plans", Run: run}}
}

// statement is one SQL statement GORM sent, with its arguments.
type statement struct {
	SQL  string
	Vars []any
}

// capture records the statements of every query GORM runs on gdb until stop is called, and
// of those sent past GORM's callbacks (db.ObserveStatements: a get by id).
func capture(gdb *gorm.DB) (got func() []statement, stop func(), err error) {
	var mu sync.Mutex
	var stmts []statement
	on := true
	add := func(sql string, vars []any) {
		mu.Lock()
		defer mu.Unlock()
		if on {
			stmts = append(stmts, statement{SQL: sql, Vars: append([]any(nil), vars...)})
		}
	}
	record := func(tx *gorm.DB) { add(tx.Statement.SQL.String(), tx.Statement.Vars) }
	name := "perf:capture"
	if err := gdb.Callback().Query().After("gorm:query").Register(name, record); err != nil {
		return nil, nil, fmt.Errorf("plans: capture: %w", err)
	}
	// Raw(...).Scan runs through the row callbacks.
	if err := gdb.Callback().Row().After("gorm:row").Register(name, record); err != nil {
		return nil, nil, fmt.Errorf("plans: capture: %w", err)
	}
	unobserve, err := db.ObserveStatements(gdb, add)
	if err != nil {
		return nil, nil, fmt.Errorf("plans: capture: %w", err)
	}
	return func() []statement {
			mu.Lock()
			defer mu.Unlock()
			out := stmts
			stmts = nil
			return out
		}, func() {
			unobserve()
			mu.Lock()
			defer mu.Unlock()
			on = false
		}, nil
}

// call is one repository call whose statements are explained.
type call struct {
	name string
	do   func(ctx context.Context, repo users.Repository) error
	// budget, when set, is the call's target: its statements' execution time (the median of
	// several EXPLAIN ANALYZE runs each, summed) against budget.Ms, reported under budget.Key.
	budget *budget
	// page marks a prefix search in username order: its plan must read about a page, not
	// walk the username index filtering on email (see walked).
	page bool
}

// budget is a call's time target.
type budget struct {
	Key, Target string
	Ms          float64
}

func calls(d perfkit.SeedInfo) []call {
	u := d.LiveUser(d.Users / 2)
	return []call{
		{name: "get by id", do: func(ctx context.Context, r users.Repository) error {
			_, err := r.Get(ctx, perfkit.ID(u), false)
			return err
		}},
		{name: "lookup by username", do: func(ctx context.Context, r users.Repository) error {
			_, err := r.List(ctx, users.ListQuery{Limit: 25, Username: strings.ToUpper(perfkit.Username(u)), State: users.StateActive, Sort: users.SortCreated})
			return err
		}},
		{name: "lookup by email (other case)", do: func(ctx context.Context, r users.Repository) error {
			_, err := r.List(ctx, users.ListQuery{Limit: 25, Email: strings.ToLower(perfkit.Email(u)), State: users.StateActive, Sort: users.SortCreated})
			return err
		}},
		{name: "prefix search", do: func(ctx context.Context, r users.Repository) error {
			_, err := r.List(ctx, users.ListQuery{Limit: 25, Q: perfkit.Username(u)[:8], State: users.StateActive, Sort: users.SortUsername})
			return err
		}, page: true, budget: &budget{Key: "prefix_by_username_ms", Ms: 2,
			Target: "Prefix search in username order, q = username[:8] (shared by ~1% of users at 1M)"}},
		{name: "prefix search, selective", do: func(ctx context.Context, r users.Repository) error {
			_, err := r.List(ctx, users.ListQuery{Limit: 25, Q: perfkit.Username(u)[:11], State: users.StateActive, Sort: users.SortUsername})
			return err
		}, page: true, budget: &budget{Key: "prefix_by_username_selective_ms", Ms: 2,
			Target: "Prefix search in username order, q = username[:11] (about 10 users)"}},
		{name: "prefix search, next page", do: func(ctx context.Context, r users.Repository) error {
			q := users.ListQuery{Limit: 25, Q: perfkit.Username(u)[:8], State: users.StateActive, Sort: users.SortUsername}
			p, err := r.List(ctx, q)
			if err != nil || p.Next == "" {
				return err
			}
			q.Cursor = p.Next
			_, err = r.List(ctx, q)
			return err
		}, page: true},
		{name: "first page, 25, by created_at", do: func(ctx context.Context, r users.Repository) error {
			_, err := r.List(ctx, users.ListQuery{Limit: 25, State: users.StateActive, Sort: users.SortCreated})
			return err
		}},
		{name: "next page by keyset cursor", do: func(ctx context.Context, r users.Repository) error {
			p, err := r.List(ctx, users.ListQuery{Limit: 25, State: users.StateActive, Sort: users.SortCreatedDesc})
			if err != nil {
				return err
			}
			_, err = r.List(ctx, users.ListQuery{Limit: 25, Cursor: p.Next, State: users.StateActive, Sort: users.SortCreatedDesc})
			return err
		}},
		{name: "a user's events", do: func(ctx context.Context, r users.Repository) error {
			_, err := r.Events(ctx, perfkit.ID(u), "", 25)
			return err
		}},
		{name: "stats, 30 days", do: func(ctx context.Context, r users.Repository) error {
			_, err := r.Stats(ctx, 30)
			return err
		}, budget: &budget{Key: "stats_ms", Ms: 5, Target: "Stats: live/deleted counts and 30 days of registrations"}},
	}
}

func run(ctx context.Context, env *perfkit.Env) (perfkit.Suite, error) {
	s := perfkit.Suite{ID: "02b-query-plans", Title: "Query plans of the repository's statements",
		Summary: fmt.Sprintf("Every SQL statement the users repository sends for each call below, captured "+
			"from GORM as sent, then EXPLAIN (ANALYZE, BUFFERS) on this run's data (%d users, %d events). "+
			"A sequential scan of users or user_events would grow with the table; none is expected. The "+
			"calls with a time target are explained %d times and take the median.",
			env.Data.Users, env.Data.Users*env.Data.EventsPerUser, timedRuns)}
	a, repo, err := perfkit.OpenRepository(ctx, env.DBURL, 2)
	if err != nil {
		return s, err
	}
	defer a.Close()
	conn, err := pgx.Connect(ctx, env.DBURL)
	if err != nil {
		return s, fmt.Errorf("plans: %w", err)
	}
	defer conn.Close(context.Background())

	got, stop, err := capture(a.DB())
	if err != nil {
		return s, err
	}
	defer stop()
	t := perfkit.Table{Caption: "Plans (outermost node first; the scans name their index)",
		Header: []string{"call", "statement", "plan", "execution"}}
	pages := perfkit.Table{Caption: "Prefix searches in username order: what each statement read for the rows it returned",
		Header: []string{"call", "statement", "rows", "rows removed by filters", "buffers", "verdict"}}
	seqScans, walks := 0, 0
	for _, c := range calls(env.Data) {
		got() // drop anything captured before
		if err := c.do(ctx, repo); err != nil {
			return s, fmt.Errorf("plans: %s: %w", c.name, err)
		}
		runs, total := 1, 0.0
		if c.budget != nil {
			runs = timedRuns
		}
		for i, st := range got() {
			x, err := explain(ctx, conn, st, runs)
			if err != nil {
				return s, fmt.Errorf("plans: %s: %w", c.name, err)
			}
			seqScans += x.SeqScans
			total += x.Ms
			stmt := fmt.Sprintf("%d: `%s`", i+1, shorten(st.SQL))
			t.Rows = append(t.Rows, []string{c.name, stmt, x.Plan, fmt.Sprintf("%.3f ms", x.Ms)})
			if c.page {
				verdict := "reads about its page"
				if x.walked() {
					walks++
					verdict = "**walks the index**"
				}
				pages.Rows = append(pages.Rows, []string{c.name, stmt, fmt.Sprintf("%d", x.Rows),
					fmt.Sprintf("%d", x.Removed), fmt.Sprintf("%d", x.Buffers), verdict})
			}
		}
		if c.budget != nil {
			s.Metric(c.budget.Key, total)
			s.Targets = append(s.Targets, timeTarget(*c.budget, total, env.Data.Users))
		}
	}
	s.Tables = append(s.Tables, t, pages)
	s.Metric("seq_scans_of_users_or_events", float64(seqScans))
	tg := perfkit.Target{Name: "Lookups, pages, events and stats use indexes (no Seq Scan of users/user_events)",
		Want: "0 seq scans", Got: fmt.Sprintf("%d", seqScans), Met: seqScans == 0}
	if !tg.Met {
		tg.Gap = fmt.Sprintf("%d sequential scan(s)", seqScans)
	}
	s.Metric("prefix_search_walks", float64(walks))
	wt := perfkit.Target{Name: "Prefix search in username order reads about its page: no walk of the username index filtering on email",
		Want: fmt.Sprintf("0 walks (≤ %d rows removed by filters, ≤ %d + %d buffers per row returned)", maxRemoved, baseBuffers, buffersPerRow),
		Got:  fmt.Sprintf("%d", walks), Met: walks == 0}
	if !wt.Met {
		wt.Gap = fmt.Sprintf("%d statement(s) read far more than their page (see the table)", walks)
	}
	s.Targets = append(s.Targets, tg, wt)
	return s, nil
}

// timedRuns is how many times a call with a time target is explained (the median counts).
const timedRuns = 5

// A prefix search in username order walked the index when a statement removed more than
// maxRemoved rows by filters (its matches are found where they are, not filtered out of the
// whole index), or read more than baseBuffers + buffersPerRow × rows returned. The new plan
// reads ~5 buffers per row (two index descents per set, a heap fetch per row); walking the
// username index from its start to user0050… read ~11,000 buffers for 26 rows at 1M users.
const (
	maxRemoved    = 1000
	baseBuffers   = 100
	buffersPerRow = 20
)

func (x explained) walked() bool {
	return x.Removed > maxRemoved || x.Buffers > baseBuffers+buffersPerRow*x.Rows
}

// timeTarget judges a call's execution time against its budget.
func timeTarget(b budget, ms float64, users int) perfkit.Target {
	t := perfkit.Target{Name: b.Target, Want: fmt.Sprintf("≤ %g ms", b.Ms),
		Got: fmt.Sprintf("%.3f ms at %d users", ms, users), Met: ms <= b.Ms}
	if !t.Met {
		t.Gap = fmt.Sprintf("%.3f ms over", ms-b.Ms)
	}
	return t
}

// explained is what one statement's EXPLAIN ANALYZE showed.
type explained struct {
	Plan     string  // one line, outermost node first
	Ms       float64 // execution time (the median over the runs)
	SeqScans int     // sequential scans of users or user_events
	Rows     int64   // rows the statement returned
	Removed  int64   // rows that scans of users read and removed by a filter
	Buffers  int64   // shared buffers hit or read
}

// explain runs EXPLAIN ANALYZE on st runs times and describes the last plan, with the median
// execution time.
func explain(ctx context.Context, conn *pgx.Conn, st statement, runs int) (explained, error) {
	var x explained
	times := make([]float64, 0, runs)
	for range max(runs, 1) {
		var raw []byte
		err := conn.QueryRow(ctx, "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) "+st.SQL, st.Vars...).Scan(&raw)
		if err != nil {
			return x, fmt.Errorf("explain %q: %w", shorten(st.SQL), err)
		}
		var out []struct {
			Plan          Node    `json:"Plan"`
			ExecutionTime float64 `json:"Execution Time"`
		}
		if err := json.Unmarshal(raw, &out); err != nil || len(out) == 0 {
			return x, fmt.Errorf("explain: unreadable plan: %v", err)
		}
		times = append(times, out[0].ExecutionTime)
		x = describe(out[0].Plan)
	}
	slices.Sort(times)
	x.Ms = times[len(times)/2]
	return x, nil
}

func describe(plan Node) explained {
	x := explained{Rows: int64(plan.ActualRows), Buffers: plan.SharedHit + plan.SharedRead}
	var parts []string
	plan.Walk(func(n Node) {
		desc := n.Type
		if n.Index != "" {
			desc += " using " + n.Index
		} else if n.Relation != "" {
			desc += " on " + n.Relation
		}
		if n.Type == "Seq Scan" && (n.Relation == "users" || n.Relation == "user_events") {
			x.SeqScans++
			desc = "**" + desc + "**"
		}
		if n.Relation == "users" {
			x.Removed += int64(n.RemovedByFilter * max(n.Loops, 1))
		}
		parts = append(parts, desc)
	})
	x.Plan = strings.Join(parts, " → ")
	return x
}

// Node is the part of an EXPLAIN (FORMAT JSON) plan node the suites read.
type Node struct {
	Type     string `json:"Node Type"`
	Relation string `json:"Relation Name"`
	Index    string `json:"Index Name"`
	// IndexCond is empty for a scan that reads its index from one end.
	IndexCond string `json:"Index Cond"`
	Plans     []Node `json:"Plans"`
	// With ANALYZE (and BUFFERS): per loop, but the buffers, which are totals.
	ActualRows      float64 `json:"Actual Rows"`
	Loops           float64 `json:"Actual Loops"`
	RemovedByFilter float64 `json:"Rows Removed by Filter"`
	SharedHit       int64   `json:"Shared Hit Blocks"`
	SharedRead      int64   `json:"Shared Read Blocks"`
}

// Walk visits n and every node below it, outermost first.
func (n Node) Walk(visit func(Node)) {
	visit(n)
	for _, c := range n.Plans {
		c.Walk(visit)
	}
}

// shorten keeps a statement readable in a table cell.
func shorten(sql string) string {
	sql = strings.Join(strings.Fields(sql), " ")
	sql = strings.ReplaceAll(sql, "|", "\\|")
	if len(sql) > 160 {
		return sql[:157] + "..."
	}
	return sql
}
