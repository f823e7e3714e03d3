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
)

//go:embed wrk/topology.lua
var wrkScript []byte

// wrkTimeout is wrk's --timeout: a slower request counts as a timeout error.
const wrkTimeout = 10 * time.Second

// wrkRun is one closed loop of wrk: conns connections over min(2, conns) threads, each
// sending its next request when the last is answered, for dur (whole seconds).
type wrkRun struct {
	script string // topology.lua's path
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
	return append(args, w.opts...)
}

// wholeSeconds is d in whole seconds, at least 1 (wrk's -d and pgbench's -T).
func wholeSeconds(d time.Duration) int { return max(1, int(d.Round(time.Second).Seconds())) }

// wrkResult is what one wrk run reported.
type wrkResult struct {
	duration                              time.Duration
	requests, bytes, sent                 int64 // answered, bytes read, built by the script
	connect, read, write, status, timeout int64 // wrk's error counters (status: answers ≥ 400)
	raw                                   *histogram
	cpu                                   cpuSplit
	output                                string // wrk's own report
}

func (w wrkResult) errors() int64 { return w.status + w.connect + w.read + w.write + w.timeout }
func (w wrkResult) ok() int64     { return w.requests - w.status }

// rps is the rate of answers below 400.
func (w wrkResult) rps() float64 {
	if w.duration <= 0 {
		return 0
	}
	return float64(w.ok()) / w.duration.Seconds()
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
		return res, fmt.Errorf("topology: wrk %s: %w; its output:\n%s", strings.Join(w.args(), " "), err, res.output)
	}
	// wrk's own CPU counts from 0: before sampled it had not started.
	res.cpu = split(before, after, 0, res.requests)
	return res, nil
}

// parseWrk reads what topology.lua prints in done(): the summary and the latency record,
// which it uncorrects. Every other line is wrk's own report, kept in output.
func parseWrk(out string, conns int) (wrkResult, error) {
	var res wrkResult
	var text strings.Builder
	corrected := &histogram{}
	var summary map[string]int64
	for _, line := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
		switch {
		case strings.HasPrefix(line, "wrk-histogram "):
			f := strings.Fields(line)
			if len(f) != 3 {
				return res, fmt.Errorf("unreadable %q", line)
			}
			v, err1 := strconv.ParseInt(f[1], 10, 64)
			c, err2 := strconv.ParseInt(f[2], 10, 64)
			if err := errors.Join(err1, err2); err != nil {
				return res, fmt.Errorf("unreadable %q: %w", line, err)
			}
			corrected.add(v, c)
		case strings.HasPrefix(line, "wrk-summary "):
			summary = map[string]int64{}
			for _, kv := range strings.Fields(line)[1:] {
				k, v, ok := strings.Cut(kv, "=")
				n, err := strconv.ParseInt(v, 10, 64)
				if !ok || err != nil {
					return res, fmt.Errorf("unreadable %q in %q", kv, line)
				}
				summary[k] = n
			}
		default:
			text.WriteString(line)
			text.WriteByte('\n')
		}
	}
	res.output = text.String()
	if summary == nil {
		return res, errors.New("no wrk-summary line (did the script load?)")
	}
	res.duration = time.Duration(summary["duration_us"]) * time.Microsecond
	res.requests, res.bytes, res.sent = summary["requests"], summary["bytes"], summary["sent"]
	res.connect, res.read, res.write = summary["connect"], summary["read"], summary["write"]
	res.status, res.timeout = summary["status"], summary["timeout"]
	if res.requests == 0 {
		return res, errors.New("no request was answered")
	}
	raw, err := uncorrect(corrected, wrkInterval(summary["duration_us"], res.requests, int64(conns)))
	if err != nil {
		return res, err
	}
	// wrk times every answer but those slower than --timeout, which it counts as timeouts.
	if want := res.requests - res.timeout; raw.n != want {
		return res, fmt.Errorf("wrk's latency record holds %d requests once uncorrected, want %d (answered less timed out)", raw.n, want)
	}
	res.raw = raw
	return res, nil
}

// wrkVersion is the first line of `wrk --version` (which exits 1 after its usage).
func wrkVersion(bin string) string {
	out, _ := exec.Command(bin, "--version").Output()
	line, _, _ := strings.Cut(string(out), "\n")
	if v, _, ok := strings.Cut(line, " Copyright"); ok {
		line = v
	}
	return strings.TrimSpace(line)
}
