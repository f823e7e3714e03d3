// Package load holds the performance suites that load the real service binary over HTTP:
// CRUD (01), concurrency (06), the connection pool (07), and the pgbench baselines with the
// same operations through HTTP (11). Each starts bin/server as a child process on the run's
// database, drives it with vegeta (github.com/tsenart/vegeta/v12) and fills a
// perfkit.Suite; the report is drawn elsewhere. Suite 11 measures its headline throughput
// and tail latencies with wrk instead (a C load generator, Lua scripts in wrk/), which leaves
// the two CPUs to the service and PostgreSQL, and profiles the service meanwhile. Users the suites register are deleted when
// each suite ends, so the data set stays the seeded one.
package load

import "usersvc/tests/performance/perfkit"

// Suites returns the suites of this package in ID order.
func Suites() []perfkit.Runner {
	return []perfkit.Runner{crudSuite(), concurrencySuite(), poolSuite(), pgbenchSuite()}
}
