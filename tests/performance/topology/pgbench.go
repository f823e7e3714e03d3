package topology

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"time"

	"usersvc/tests/performance/load"
	"usersvc/tests/performance/perfkit"
)

// pgbenchRun is one run of pgbench's built-in select-only script (-S: one SELECT of
// pgbench_accounts by primary key per transaction).
type pgbenchRun struct {
	url       string // the bench database, directly or through PgBouncer
	mode      string // -M: simple, extended or prepared
	clients   int
	dur       time.Duration
	poolerPID int // PgBouncer, whose CPU is split out (0: not in the path)
}

func (r pgbenchRun) args() []string {
	return []string{"-n", "-S", "-M", r.mode, "-c", strconv.Itoa(r.clients), "-j", strconv.Itoa(min(2, r.clients)),
		"-T", strconv.Itoa(wholeSeconds(r.dur)), r.url}
}

// pgbenchResult is what one pgbench run reported.
type pgbenchResult struct {
	tps       float64 // without initial connection time
	latencyMS float64 // average
	processed int64
	cpu       cpuSplit
}

func runPgbench(ctx context.Context, bin string, r pgbenchRun) (pgbenchResult, error) {
	cmd := exec.CommandContext(ctx, bin, r.args()...)
	cmd.Env = append(os.Environ(), "PGAPPNAME="+perfkit.ApplicationName+"-pgbench")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	before := sampleCPU(0, r.poolerPID, 0)
	runErr := cmd.Run()
	after := sampleCPU(0, r.poolerPID, 0)
	res, parseErr := parsePgbench(out.String())
	if err := errors.Join(runErr, parseErr); err != nil {
		return res, fmt.Errorf("topology: pgbench %v: %w; its output:\n%s", r.args()[:len(r.args())-1], err, out.String())
	}
	if cmd.ProcessState != nil {
		res.cpu = split(before, after, cmd.ProcessState.UserTime()+cmd.ProcessState.SystemTime(), res.processed)
	}
	return res, nil
}

// parsePgbench reads pgbench's summary (load.ParsePgbench); a run with failed transactions
// or none is an error.
func parsePgbench(out string) (pgbenchResult, error) {
	sum, err := load.ParsePgbench(out)
	return pgbenchResult{tps: sum.TPS, latencyMS: sum.LatencyMS, processed: int64(sum.Processed)}, err
}
