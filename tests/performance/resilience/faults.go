package resilience

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// faultSQL installs the fault injector on a migrated database of the suite's own: a BEFORE
// INSERT trigger on users that, for every attempt to insert a user,
//
//   - counts the attempt in perf_attempts and, for usernames "w<N>-…", in perf_w<N> (one
//     counter per worker, so a worker that runs one operation at a time knows how many
//     attempts each of its operations took). Sequences are not rolled back with the
//     transaction, so the counts are exact even for attempts that failed;
//   - when stamp is on, records the attempt's wall-clock time (µs since the epoch) in
//     perf_w<N>_t<k> for the worker's k-th attempt (setval is not rolled back either);
//   - sleeps sleep_ms (a statement that hangs);
//   - raises SQLSTATE 40001 (serialization_failure) with probability fail_rate.
//
// The knobs live in the one-row table perf_fault, which the trigger reads on every attempt.
const faultSQL = `
CREATE TABLE perf_fault (
	one boolean PRIMARY KEY DEFAULT true CHECK (one),
	fail_rate float8 NOT NULL DEFAULT 0,
	sleep_ms int NOT NULL DEFAULT 0,
	stamp boolean NOT NULL DEFAULT false
);
INSERT INTO perf_fault DEFAULT VALUES;
CREATE SEQUENCE perf_attempts;
DO $$ BEGIN
	FOR w IN 0..` + maxWorkerStr + ` LOOP EXECUTE format('CREATE SEQUENCE perf_w%s', w); END LOOP;
	FOR w IN 0..` + maxStampWorkerStr + ` LOOP
		FOR k IN 1..` + maxStampsStr + ` LOOP EXECUTE format('CREATE SEQUENCE perf_w%s_t%s', w, k); END LOOP;
	END LOOP;
END $$;
CREATE FUNCTION perf_fault() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
	f perf_fault%ROWTYPE;
	w int := substring(NEW.username FROM '^w(\d+)-')::int;
	k bigint;
BEGIN
	PERFORM nextval('perf_attempts');
	SELECT * INTO f FROM perf_fault;
	IF w IS NOT NULL THEN
		k := nextval(format('perf_w%s', w)::regclass);
		IF f.stamp AND w <= ` + maxStampWorkerStr + ` AND k <= ` + maxStampsStr + ` THEN
			PERFORM setval(format('perf_w%s_t%s', w, k)::regclass,
				(extract(epoch FROM clock_timestamp()) * 1000000)::bigint);
		END IF;
	END IF;
	IF f.sleep_ms > 0 THEN
		PERFORM pg_sleep(f.sleep_ms / 1000.0);
	END IF;
	IF random() < f.fail_rate THEN
		RAISE EXCEPTION 'perf: injected serialization failure' USING ERRCODE = 'serialization_failure';
	END IF;
	RETURN NEW;
END $$;
CREATE TRIGGER perf_fault BEFORE INSERT ON users FOR EACH ROW EXECUTE FUNCTION perf_fault();
`

const (
	maxWorker         = 63 // workers 0..63 have an attempt counter
	maxStampWorker    = 7  // workers 0..7 can record attempt times
	maxStamps         = 12 // attempt times recorded per operation
	maxWorkerStr      = "63"
	maxStampWorkerStr = "7"
	maxStampsStr      = "12"
)

// faults controls the injector of one database, over a pool of its own (never the app's).
type faults struct {
	pool *pgxpool.Pool
}

// installFaults installs faultSQL on dbURL and returns its controls.
func installFaults(ctx context.Context, dbURL string) (*faults, error) {
	cfg, err := pgxpool.ParseConfig(dbURL)
	if err != nil {
		return nil, err
	}
	cfg.MaxConns = maxWorker + 1
	cfg.ConnConfig.RuntimeParams["application_name"] = "usersvc-perf-faults"
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("perf: faults: %w", err)
	}
	if _, err := pool.Exec(ctx, faultSQL, pgx.QueryExecModeSimpleProtocol); err != nil {
		pool.Close()
		return nil, fmt.Errorf("perf: faults: install: %w", err)
	}
	return &faults{pool: pool}, nil
}

func (f *faults) close() { f.pool.Close() }

// fault is what the trigger does to every attempt.
type fault struct {
	failRate float64
	sleepMS  int
	stamp    bool
}

func (f *faults) set(ctx context.Context, ft fault) error {
	_, err := f.pool.Exec(ctx, `UPDATE perf_fault SET fail_rate = $1, sleep_ms = $2, stamp = $3`,
		ft.failRate, ft.sleepMS, ft.stamp)
	return err
}

// total is the number of attempts the trigger has seen.
func (f *faults) total(ctx context.Context) (int64, error) {
	return seqValue(ctx, f.pool, "perf_attempts")
}

// seqValue reads a sequence's current value without advancing it (0 before its first use).
type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

func seqValue(ctx context.Context, q querier, seq string) (int64, error) {
	var v int64
	err := q.QueryRow(ctx, `SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM `+seq).Scan(&v)
	return v, err
}

// workerName is a username that the trigger counts for worker w.
func workerName(w int, tag string, n int) string {
	return fmt.Sprintf("w%d-%s-%d", w, tag, n)
}

func workerSeq(w int) string { return fmt.Sprintf("perf_w%d", w) }

// stamps returns the attempt times (µs) worker w recorded since its counter was reset, and
// resets the counter for its next operation.
func (f *faults) stamps(ctx context.Context, c *pgxpool.Conn, w int) ([]int64, error) {
	n, err := seqValue(ctx, c, workerSeq(w))
	if err != nil {
		return nil, err
	}
	out := make([]int64, 0, n)
	for k := 1; k <= int(min(n, maxStamps)); k++ {
		v, err := seqValue(ctx, c, fmt.Sprintf("perf_w%d_t%d", w, k))
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	_, err = c.Exec(ctx, `SELECT setval($1::text::regclass, 1, false)`, workerSeq(w))
	return out, err
}

// metricSum reads the app's /metrics through its handler and sums the series of name whose
// labels contain every one of labels (e.g. `op="read"`); 0 when absent.
func metricSum(h http.Handler, name string, labels ...string) float64 {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	sum := 0.0
	for line := range strings.SplitSeq(rec.Body.String(), "\n") {
		series, value, ok := strings.Cut(line, " ")
		if !ok || strings.HasPrefix(line, "#") {
			continue
		}
		metric, lbls, _ := strings.Cut(series, "{")
		if metric != name {
			continue
		}
		match := true
		for _, l := range labels {
			match = match && strings.Contains(lbls, l)
		}
		if v, err := strconv.ParseFloat(value, 64); err == nil && match {
			sum += v
		}
	}
	return sum
}
