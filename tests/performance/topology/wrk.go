package topology

import (
	"bufio"
	"bytes"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"usersvc/tests/performance/load"
)

// wrkScript is the suite's request part, run after load's wrk/common.lua (see
// load.WriteWrkScript).
//
//go:embed wrk/topology.lua
var wrkScript []byte

// wrkTimeout is wrk's --timeout: a slower request counts as a timeout error.
const wrkTimeout = 10 * time.Second

// wrkRun is one closed loop of wrk: conns connections over min(2, conns) threads, each
// sending its next request when the last is answered, for dur (whole seconds).
type wrkRun struct {
	script string // the rendered topology.lua's path
	url    string // http://127.0.0.1:port/api/v1/users
	conns  int
	dur    time.Duration
	opts   []string // the script's name=value options
	// The processes whose CPU is split out: the service and PgBouncer (0: none).
	servicePID, poolerPID int
}

func (w wrkRun) args() []string {
	args := []string{"-t", strconv.Itoa(min(2, w.conns)), "-c", strconv.Itoa(w.conns), "-d", fmt.Sprintf("%ds", wholeSeconds(w.dur)),
		"--timeout", fmt.Sprintf("%ds", int(wrkTimeout.Seconds())), "-s", w.script, w.url, "--"}
	return append(append(args, w.opts...), "histogram=1")
}

// wholeSeconds is d in whole seconds, at least 1 (wrk's -d and pgbench's -T).
func wholeSeconds(d time.Duration) int { return max(1, int(d.Round(time.Second).Seconds())) }

// wrkResult is what one wrk run reported (load.ParseWrk), with the CPU split.
type wrkResult struct {
	load.WrkResult
	cpu cpuSplit
}

// runWrk runs w. The CPU counters are read when wrk prints its summary, before it prints
// the latency record (which takes it a while), and divided over the requests answered.
func runWrk(ctx context.Context, bin string, w wrkRun) (wrkResult, error) {
	cmd := exec.CommandContext(ctx, bin, w.args()...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return wrkResult{}, err
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	before := sampleCPU(w.servicePID, w.poolerPID, 0)
	if err := cmd.Start(); err != nil {
		return wrkResult{}, fmt.Errorf("topology: start wrk: %w", err)
	}
	var out strings.Builder
	var after cpuSample
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "wrk-summary ") {
			after = sampleCPU(w.servicePID, w.poolerPID, cmd.Process.Pid)
		}
		out.WriteString(line)
		out.WriteByte('\n')
	}
	scanErr := sc.Err()
	runErr := cmd.Wait()
	res, parseErr := parseWrk(out.String(), w.conns)
	if stderr.Len() > 0 { // a script that fails to load is reported here, and wrk goes on without it
		parseErr = errors.Join(parseErr, fmt.Errorf("wrk wrote to stderr: %s", strings.TrimSpace(stderr.String())))
	}
	if err := errors.Join(scanErr, runErr, parseErr); err != nil {
		return res, fmt.Errorf("topology: wrk %s: %w; its output:\n%s", strings.Join(w.args(), " "), err, res.Output())
	}
	// wrk's own CPU counts from 0: before sampled it had not started.
	res.cpu = split(before, after, 0, res.Requests())
	return res, nil
}

// parseWrk reads what the script prints in done() (load.ParseWrk); the latency record
// (histogram=1) is required, since the tables' percentiles come from it.
func parseWrk(out string, conns int) (wrkResult, error) {
	r, err := load.ParseWrk(out, conns)
	if err == nil && r.Latency() == nil {
		err = errors.New("no latency record (wrk-histogram lines): the script was not given histogram=1")
	}
	return wrkResult{WrkResult: r}, err
}
