// Package scale is the scale suite (12-scale): how the cost of the users repository's main
// reads grows with the size of the users table. It measures get by id, the first page, a
// page deep into the table by keyset cursor, prefix search sorted by username and stats on
// three tables a factor of ten apart in size (10k, 100k and 1M users in the full profile,
// the largest being the run's own database), and states how much each grew from the
// smallest table to the largest against a bound per operation.
package scale

import (
	"context"
	"fmt"
	"time"

	"usersvc/tests/performance/perfkit"
)

// ID is the suite's id.
const ID = "12-scale"

// Suites is the scale suite.
func Suites() []perfkit.Runner {
	return []perfkit.Runner{{ID: ID, Run: run}}
}

// plan is how many times each operation is measured on each table.
type plan struct {
	warm      int           // rounds run first and thrown away
	minRounds int           // measured rounds, at least
	maxRounds int           // measured rounds, at most
	budget    time.Duration // once this has passed and minRounds are done, an operation stops
}

// planFor sizes the measurement for profile p: the full profile takes more samples.
func planFor(p perfkit.Profile) plan {
	if p.Name == "full" {
		return plan{warm: 10, minRounds: 20, maxRounds: 1000, budget: 6 * time.Second}
	}
	return plan{warm: 5, minRounds: 10, maxRounds: 200, budget: 2 * time.Second}
}

func run(ctx context.Context, env *perfkit.Env) (perfkit.Suite, error) {
	start := time.Now()
	sizes := Sizes(env.Data.Users)
	s := perfkit.Suite{ID: ID, Title: "Cost against table size",
		Summary: summary(sizes, env.Data.Users)}
	sets, closeAll, err := openDatasets(ctx, env, sizes)
	defer closeAll()
	if err != nil {
		return s, err
	}
	pl := planFor(env.Profile)
	var rows []Row
	for _, o := range operations(env.Data.Users) {
		r, err := measureOp(ctx, o, sets, pl)
		if err != nil {
			return s, fmt.Errorf("scale: %s: %w", o.Name, err)
		}
		rows = append(rows, r)
	}
	fill(&s, sets, rows)
	s.Notes = append(s.Notes, fmt.Sprintf("The suite took %s, seeding its extra tables included.",
		time.Since(start).Round(100*time.Millisecond)))
	return s, nil
}

func summary(sizes []int, largest int) string {
	return fmt.Sprintf("Each operation is a users repository call (GORM plus the Runner's retry, breaker "+
		"and deadline layers, as the handlers call it), timed one call at a time from one goroutine on "+
		"tables of %s users, seeded alike (the largest is this run's own database; the others are "+
		"databases of their own, seeded for this suite and dropped after it). The calls go round the "+
		"tables in turn, so a busy moment of the machine falls on every size alike; a few rounds are "+
		"run first and not counted. Get by id and prefix search use scattered users, like random keys "+
		"would; prefix search looks for such a user's username without its last two digits (100 users "+
		"share that prefix at every size) and, in a second row, without as many as leave about 1%% of the "+
		"table sharing it (\"user0050\" at 1M), as a typed prefix matches more users in a larger table; the deep page is %s rows deep by keyset cursor (the cursor the API would have issued, "+
		"built from the row at that depth and checked against it), or the deepest page a smaller table "+
		"has. One sequential client includes the round trip's wake-up latency in every call, so read "+
		"the growth column rather than the absolute times: a cost that is flat or logarithmic in the "+
		"table's size grows little from the smallest table to the largest (100× more rows), a linear "+
		"one grows with the rows.", joinSizes(sizes), grouped(largest/2))
}
