// Package bench holds the Go benchmarks of suites 1–5 and 10 of `make perf` (issue 4): the
// users repository (GORM, with the Runner's layers) against raw pgx (tests/performance/
// pgxrepo) sending the same SQL, on a seeded database. The benchmark names are read by
// tests/performance/benchsuite; keep them as they are.
//
// With PERF_DATABASE_URL the benchmarks use that migrated and seeded database (sized by
// PERF_USERS, PERF_EVENTS_PER_USER, PERF_DELETED_EVERY; PERF_POOL_SIZE, PERF_DEPTHS and
// PERF_BULK_SIZES shape the run) and delete the rows they wrote at the end. Without it, the
// first test or benchmark that runs creates a small database of its own and drops it after.
// The package's tests (run by `make test`) check that the baseline answers what the
// repository answers, with the same SQL, from indexes.
package bench
