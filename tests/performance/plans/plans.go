// Package plans is the query-plan suite: it captures the SQL the users repository really
// sends (a GORM callback, so nothing is retyped by hand) and shows PostgreSQL's plan for each
// statement on the run's seeded data, flagging any sequential scan.
package plans

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5"
	"gorm.io/gorm"

	"usersvc/modules/users"
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

// capture records the statements of every query GORM runs on gdb until stop is called.
func capture(gdb *gorm.DB) (got func() []statement, stop func()) {
	var mu sync.Mutex
	var stmts []statement
	on := true
	name := "perf:capture"
	_ = gdb.Callback().Query().After("gorm:query").Register(name, func(tx *gorm.DB) {
		mu.Lock()
		defer mu.Unlock()
		if on {
			stmts = append(stmts, statement{SQL: tx.Statement.SQL.String(), Vars: append([]any(nil), tx.Statement.Vars...)})
		}
	})
	// Raw(...).Scan runs through the row callbacks.
	_ = gdb.Callback().Row().After("gorm:row").Register(name, func(tx *gorm.DB) {
		mu.Lock()
		defer mu.Unlock()
		if on {
			stmts = append(stmts, statement{SQL: tx.Statement.SQL.String(), Vars: append([]any(nil), tx.Statement.Vars...)})
		}
	})
	return func() []statement {
			mu.Lock()
			defer mu.Unlock()
			out := stmts
			stmts = nil
			return out
		}, func() {
			mu.Lock()
			defer mu.Unlock()
			on = false
		}
}

// call is one repository call whose statements are explained.
type call struct {
	name string
	do   func(ctx context.Context, repo users.Repository) error
	// fullScan, when set, says why the statement holding fullScanSQL reads a whole table by
	// design; its sequential scans are reported but not counted against the target (the
	// call's other statements still are).
	fullScan, fullScanSQL string
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
		}},
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
		}, fullScan: "stats counts live and deleted users, which reads every row of users: its cost grows with the table",
			fullScanSQL: "count(*) FILTER (WHERE deleted_at IS NULL)"},
	}
}

func run(ctx context.Context, env *perfkit.Env) (perfkit.Suite, error) {
	s := perfkit.Suite{ID: "02b-query-plans", Title: "Query plans of the repository's statements",
		Summary: fmt.Sprintf("Every SQL statement the users repository sends for each call below, captured "+
			"from GORM as sent, then EXPLAIN (ANALYZE, BUFFERS) on this run's data (%d users, %d events). "+
			"A sequential scan of users or user_events would grow with the table; none is expected.",
			env.Data.Users, env.Data.Users*env.Data.EventsPerUser)}
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

	got, stop := capture(a.DB())
	defer stop()
	t := perfkit.Table{Caption: "Plans (outermost node first; the scans name their index)",
		Header: []string{"call", "statement", "plan", "execution"}}
	seqScans := 0
	for _, c := range calls(env.Data) {
		got() // drop anything captured before
		if err := c.do(ctx, repo); err != nil {
			return s, fmt.Errorf("plans: %s: %w", c.name, err)
		}
		for i, st := range got() {
			plan, ms, seq, err := explain(ctx, conn, st)
			if err != nil {
				return s, fmt.Errorf("plans: %s: %w", c.name, err)
			}
			if seq > 0 && c.fullScan != "" && strings.Contains(st.SQL, c.fullScanSQL) {
				s.Notes = append(s.Notes, fmt.Sprintf("%s: %s (%.1f ms here). When that gets too slow, "+
					"keep the counts in a table the writes update, or show an estimate.", c.name, c.fullScan, ms))
				seq = 0
			}
			seqScans += seq
			t.Rows = append(t.Rows, []string{c.name, fmt.Sprintf("%d: `%s`", i+1, shorten(st.SQL)), plan, fmt.Sprintf("%.3f ms", ms)})
		}
	}
	s.Tables = append(s.Tables, t)
	s.Metric("seq_scans_of_users_or_events", float64(seqScans))
	tg := perfkit.Target{Name: "Lookups, pages, events and stats use indexes (no Seq Scan of users/user_events, but for stats' count of all users)",
		Want: "0 seq scans", Got: fmt.Sprintf("%d", seqScans), Met: seqScans == 0}
	if !tg.Met {
		tg.Gap = fmt.Sprintf("%d sequential scan(s)", seqScans)
	}
	s.Targets = append(s.Targets, tg)
	return s, nil
}

// explain runs EXPLAIN ANALYZE on st and returns a one-line plan, the execution time and how
// many sequential scans of users or user_events it has.
func explain(ctx context.Context, conn *pgx.Conn, st statement) (string, float64, int, error) {
	var raw []byte
	err := conn.QueryRow(ctx, "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) "+st.SQL, st.Vars...).Scan(&raw)
	if err != nil {
		return "", 0, 0, fmt.Errorf("explain %q: %w", shorten(st.SQL), err)
	}
	var out []struct {
		Plan          Node    `json:"Plan"`
		ExecutionTime float64 `json:"Execution Time"`
	}
	if err := json.Unmarshal(raw, &out); err != nil || len(out) == 0 {
		return "", 0, 0, fmt.Errorf("explain: unreadable plan: %v", err)
	}
	var parts []string
	seq := 0
	out[0].Plan.Walk(func(n Node) {
		desc := n.Type
		if n.Index != "" {
			desc += " using " + n.Index
		} else if n.Relation != "" {
			desc += " on " + n.Relation
		}
		if n.Type == "Seq Scan" && (n.Relation == "users" || n.Relation == "user_events") {
			seq++
			desc = "**" + desc + "**"
		}
		parts = append(parts, desc)
	})
	return strings.Join(parts, " → "), out[0].ExecutionTime, seq, nil
}

// Node is the part of an EXPLAIN (FORMAT JSON) plan node the suites read.
type Node struct {
	Type     string `json:"Node Type"`
	Relation string `json:"Relation Name"`
	Index    string `json:"Index Name"`
	Plans    []Node `json:"Plans"`
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
