package perfkit

import (
	"fmt"
	"log/slog"
	"time"
)

// Profile sizes a run. quick keeps CI honest in under two minutes; full is the real
// measurement (≥ 1M users) in under twenty.
type Profile struct {
	Name          string
	Users         int           // seeded users
	EventsPerUser int           // seeded events per user
	DeletedEvery  int           // every n-th seeded user is soft-deleted
	BenchTime     string        // go test -benchtime for the Go benchmarks
	BenchCount    int           // go test -count (benchstat wants ≥ 5 for a confidence interval)
	BenchTimeout  time.Duration // go test -timeout: a stuck benchmark fails the run, not hangs it
	Step          time.Duration // length of one load step (one concurrency, one pool size)
	Concurrency   []int         // HTTP clients, suite 6
	PoolSizes     []int         // database.max_open_conns values, suite 7
	Depths        []int         // pagination depths, suite 3
	BulkSizes     []int         // users per bulk insert, suite 4
	SoakOps       int           // operations in the soak, suite 9
}

// Profiles are the sizes `make perf PROFILE=…` accepts.
var Profiles = map[string]Profile{
	"quick": {
		Name: "quick", Users: 20_000, EventsPerUser: 2, DeletedEvery: 20,
		BenchTime: "150ms", BenchCount: 1, BenchTimeout: 10 * time.Minute, Step: time.Second,
		Concurrency: []int{1, 5, 10, 20, 50, 100}, PoolSizes: []int{2, 4, 8, 16, 32},
		Depths: []int{0, 1_000, 10_000}, BulkSizes: []int{1_000}, SoakOps: 3_000,
	},
	"full": {
		Name: "full", Users: 1_000_000, EventsPerUser: 5, DeletedEvery: 20,
		BenchTime: "300ms", BenchCount: 5, BenchTimeout: 45 * time.Minute, Step: 5 * time.Second,
		Concurrency: []int{1, 5, 10, 20, 50, 100}, PoolSizes: []int{2, 4, 8, 16, 32},
		Depths: []int{0, 1_000, 10_000, 100_000, 500_000}, BulkSizes: []int{1_000, 10_000}, SoakOps: 100_000,
	},
}

// ProfileNamed returns the profile called name.
func ProfileNamed(name string) (Profile, error) {
	p, ok := Profiles[name]
	if !ok {
		return Profile{}, fmt.Errorf("perf: unknown profile %q (quick or full)", name)
	}
	return p, nil
}

// Env is one run: where its data is, how big, and where results go.
type Env struct {
	Profile Profile
	DBURL   string // the run's own database: migrated and seeded (see Seed)
	// PoolSize is database.max_open_conns for the app and every baseline of the run: the raw
	// pgx pool's size and pgbench's client count.
	PoolSize  int
	ServerBin string // the service binary (bin/server), for suites that load it over HTTP
	OutDir    string // the run's results folder; suites may write files into it
	Log       *slog.Logger
	Data      SeedInfo
}
