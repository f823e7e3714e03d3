package load

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
)

// errTooManyClients marks a pgbench run PostgreSQL refused connections to.
var errTooManyClients = errors.New("PostgreSQL has fewer free connections than pgbench has clients")

var tooManyClients = regexp.MustCompile(`too many clients already|remaining connection slots are reserved`)

// readPgbenchLogs reads the per-transaction logs pgbench -l --log-prefix prefix wrote
// (prefix.PID, and prefix.PID.N for each further thread) into a histogram of latencies,
// then deletes them.
func readPgbenchLogs(prefix string) (*Histogram, error) {
	files, err := filepath.Glob(prefix + ".*")
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no transaction log %s.* was written", prefix)
	}
	h := &Histogram{}
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			return nil, err
		}
		err = parsePgbenchLog(f, h)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		if err := os.Remove(name); err != nil {
			return nil, err
		}
	}
	return h, nil
}

// parsePgbenchLog adds the latencies of a pgbench per-transaction log to h. Each line is
// "client_id transaction_no time script_no time_epoch time_us [schedule_lag] [retries]",
// time being the transaction's latency in µs, or "failed" / "skipped"; a transaction that
// did not succeed is an error.
func parsePgbenchLog(r io.Reader, h *Histogram) error {
	sc := bufio.NewScanner(r)
	line := 0
	for sc.Scan() {
		line++
		f := strings.Fields(sc.Text())
		if len(f) < 6 {
			return fmt.Errorf("line %d: unreadable %q", line, sc.Text())
		}
		us, err := strconv.ParseInt(f[2], 10, 64)
		if err != nil {
			return fmt.Errorf("line %d: transaction %s of client %s did not succeed: %q", line, f[1], f[0], f[2])
		}
		h.Add(us, 1)
	}
	return sc.Err()
}

// freeConnections is how many more connections PostgreSQL would accept from dbURL's role
// once this check's own connection is closed.
func freeConnections(ctx context.Context, dbURL string) (free, maxConns int, err error) {
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return 0, 0, fmt.Errorf("load: count connections: %w", err)
	}
	defer conn.Close(context.Background())
	err = conn.QueryRow(ctx, `SELECT current_setting('max_connections')::int,
		current_setting('max_connections')::int
		- CASE WHEN (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN 0
			ELSE current_setting('superuser_reserved_connections')::int END
		- (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid())::int`).Scan(&maxConns, &free)
	if err != nil {
		return 0, 0, fmt.Errorf("load: count connections: %w", err)
	}
	return free, maxConns, nil
}
