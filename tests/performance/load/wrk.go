package load

import (
	"bufio"
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

//go:embed wrk/*.lua
var wrkScripts embed.FS

// wrkTimeout is wrk's --timeout: a request slower than this is counted as a timeout error
// (wrk keeps a counter per microsecond up to it). It equals the service's request timeout.
const wrkTimeout = 10 * time.Second

// FindWrk finds wrk on PATH.
func FindWrk() (string, error) {
	if p, err := exec.LookPath("wrk"); err == nil {
		return p, nil
	}
	return "", errors.New("load: wrk not found on PATH: suite 11 drives HTTP with it (a C load generator that " +
		"leaves the CPUs to the service and PostgreSQL; vegeta costs several times more per request); " +
		"on Debian/Ubuntu: apt-get install wrk")
}

// WrkVersion is the first line of `wrk --version` (which exits 1 after printing its usage).
func WrkVersion(bin string) string {
	out, _ := exec.Command(bin, "--version").Output()
	line, _, _ := strings.Cut(string(out), "\n")
	if v, _, ok := strings.Cut(line, " Copyright"); ok {
		line = v
	}
	return strings.TrimSpace(line)
}

// renderWrkScript writes the common part and the operation's script name into dir as one
// file, and returns its path.
func renderWrkScript(dir, name string) (string, error) {
	own, err := wrkScripts.ReadFile("wrk/" + name)
	if err != nil {
		return "", err
	}
	return WriteWrkScript(dir, name, own)
}

// WriteWrkScript writes wrk/common.lua (options, request helpers, and the done() whose
// output ParseWrk reads) followed by own, a script's request part, into dir as name, and
// returns its path.
func WriteWrkScript(dir, name string, own []byte) (string, error) {
	common, err := wrkScripts.ReadFile("wrk/common.lua")
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, name)
	return path, os.WriteFile(path, append(common, own...), 0o644)
}

// wrkRun is one run of wrk: a closed loop of conns connections (each sends its next request
// when the last is answered) for dur.
type wrkRun struct {
	script    string // the rendered script's path
	url       string // http://127.0.0.1:port/api/v1/users
	conns     int    // connections, spread over min(2, conns) threads
	dur       time.Duration
	opts      []string // the script's name=value options
	histogram bool     // print and read every latency (costs wrk CPU after the run: no CPU split then)
	serverPID int      // the service process, for the CPU split
}

func (w wrkRun) args() []string {
	args := []string{"-t", itoa(min(2, w.conns)), "-c", itoa(w.conns), "-d", fmt.Sprintf("%ds", int(pgbenchDuration(w.dur).Seconds())),
		"--timeout", fmt.Sprintf("%ds", int(wrkTimeout.Seconds())), "--latency", "-s", w.script, w.url, "--"}
	args = append(args, w.opts...)
	if w.histogram {
		args = append(args, "histogram=1")
	}
	return args
}

// WrkResult is what one wrk run reported.
type WrkResult struct {
	duration                              time.Duration
	requests, bytes, sent                 int64 // answered, bytes read, built by the script
	connect, read, write, status, timeout int64 // wrk's error counters (status: answers ≥ 400)
	p50, p99                              time.Duration
	raw                                   *Histogram // every latency wrk timed, uncorrected; nil without wrkRun.histogram
	cpu                                   cpuSplit   // per request; not with wrkRun.histogram
	output                                string     // wrk's own report
}

// Errors counts the requests that failed: answers ≥ 400 and socket errors.
func (w WrkResult) Errors() int64 { return w.status + w.connect + w.read + w.write + w.timeout }

// OK counts the answers below 400.
func (w WrkResult) OK() int64 { return w.requests - w.status }

// Requests counts the requests answered.
func (w WrkResult) Requests() int64 { return w.requests }

// Sent counts the requests the script built.
func (w WrkResult) Sent() int64 { return w.sent }

// Latency is every latency wrk timed, uncorrected; nil when the script printed no record
// (histogram=1 not given).
func (w WrkResult) Latency() *Histogram { return w.raw }

// Output is wrk's own report: its output less the lines ParseWrk reads.
func (w WrkResult) Output() string { return w.output }

// RPS is the rate of answers below 400.
func (w WrkResult) RPS() float64 {
	if w.duration <= 0 {
		return 0
	}
	return float64(w.OK()) / w.duration.Seconds()
}

// errorsCell is the error count with wrk's words for them.
func (w WrkResult) errorsCell() string {
	if w.Errors() == 0 {
		return "0"
	}
	var parts []string
	if w.status > 0 {
		parts = append(parts, fmt.Sprintf("non-2xx or 3xx responses ×%d", w.status))
	}
	if s := w.connect + w.read + w.write + w.timeout; s > 0 {
		parts = append(parts, fmt.Sprintf("socket errors: connect %d, read %d, write %d, timeout %d", w.connect, w.read, w.write, w.timeout))
	}
	return fmt.Sprintf("%d (%s)", w.Errors(), strings.Join(parts, "; "))
}

// runWrk runs w and reads its report; with serverPID set and no histogram, it also splits
// the machine's CPU over the requests: the service, wrk itself, and the rest.
func runWrk(ctx context.Context, bin string, w wrkRun) (WrkResult, error) {
	cmd := exec.CommandContext(ctx, bin, w.args()...)
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	before := sampleCPU(w.serverPID)
	runErr := cmd.Run()
	after := sampleCPU(w.serverPID)
	res, parseErr := ParseWrk(out.String(), w.conns)
	if stderr.Len() > 0 { // a script that fails to load is reported here, and wrk goes on without it
		parseErr = errors.Join(parseErr, fmt.Errorf("wrk wrote to stderr: %s", strings.TrimSpace(stderr.String())))
	}
	if err := errors.Join(runErr, parseErr); err != nil {
		return res, fmt.Errorf("load: wrk %s: %w; its output:\n%s", strings.Join(w.args(), " "), err, res.output)
	}
	if !w.histogram && cmd.ProcessState != nil {
		res.cpu = splitChild(before, after, cmd.ProcessState.UserTime()+cmd.ProcessState.SystemTime(), int(res.requests))
	}
	return res, nil
}

// ParseWrk reads what the scripts print in done() (see wrk/common.lua): the summary, wrk's
// percentiles and, when asked for, the latency histogram, which it uncorrects (see
// uncorrect). conns is the run's connection count. Every other line is wrk's own report,
// kept in output.
func ParseWrk(out string, conns int) (WrkResult, error) {
	var res WrkResult
	var text strings.Builder
	corrected := &Histogram{}
	var summary, latency map[string]int64
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
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
			corrected.Add(v, c)
		case strings.HasPrefix(line, "wrk-summary "):
			var err error
			if summary, err = keyValues(line); err != nil {
				return res, err
			}
		case strings.HasPrefix(line, "wrk-latency "):
			var err error
			if latency, err = keyValues(line); err != nil {
				return res, err
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
	if latency == nil {
		return res, errors.New("no wrk-latency line")
	}
	res.p50 = time.Duration(latency["p50_us"]) * time.Microsecond
	res.p99 = time.Duration(latency["p99_us"]) * time.Microsecond
	if corrected.n > 0 {
		raw, err := uncorrect(corrected, wrkInterval(summary["duration_us"], res.requests, int64(conns)))
		if err != nil {
			return res, err
		}
		// wrk times every answer but those slower than --timeout, which it counts as timeouts.
		if want := res.requests - res.timeout; raw.n != want {
			return res, fmt.Errorf("wrk's latency histogram holds %d requests once uncorrected, want %d (answered less timed out)", raw.n, want)
		}
		res.raw = raw
	}
	return res, nil
}

// keyValues reads "tag k=v k=v …" with integer values.
func keyValues(line string) (map[string]int64, error) {
	f := strings.Fields(line)
	m := make(map[string]int64, len(f))
	for _, kv := range f[1:] {
		k, v, ok := strings.Cut(kv, "=")
		n, err := strconv.ParseInt(v, 10, 64)
		if !ok || err != nil {
			return nil, fmt.Errorf("unreadable %q in %q", kv, line)
		}
		m[k] = n
	}
	return m, nil
}
