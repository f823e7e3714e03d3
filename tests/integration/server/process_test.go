package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// process is one run of the server binary.
type process struct {
	cmd     *exec.Cmd
	stdout  *output
	stderr  *output
	done    chan struct{} // closed when the process has exited and its output is read
	waitErr error         // from cmd.Wait; read after done
}

// start runs the binary with args and exactly env (nothing is inherited from the test
// process, so a developer's DATABASE_URL or USERSVC_* cannot leak in). The process is killed
// at the end of the test if still running; on failure its output is logged.
func start(t *testing.T, env []string, args ...string) *process {
	t.Helper()
	p := &process{cmd: exec.Command(binary, args...), stdout: newOutput(), stderr: newOutput(), done: make(chan struct{})}
	p.cmd.Env = env
	p.cmd.Stdout, p.cmd.Stderr = p.stdout, p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", binary, err)
	}
	go func() {
		p.waitErr = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		if !p.exited() {
			_ = p.cmd.Process.Kill() // our own child, by its pid
			select {
			case <-p.done:
			case <-time.After(10 * time.Second):
				t.Errorf("server pid %d did not die after SIGKILL", p.cmd.Process.Pid)
			}
		}
		if t.Failed() {
			t.Logf("server %q stderr:\n%s", args, p.stderr.String())
		}
	})
	return p
}

func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// wait returns the exit status once the process has exited, or an error when ctx ends first.
func (p *process) wait(ctx context.Context) (int, error) {
	select {
	case <-p.done:
		var exitErr *exec.ExitError
		if p.waitErr != nil && !errors.As(p.waitErr, &exitErr) {
			return -1, p.waitErr
		}
		return p.cmd.ProcessState.ExitCode(), nil // -1 when killed by a signal
	case <-ctx.Done():
		return -1, fmt.Errorf("server pid %d still running: %w", p.cmd.Process.Pid, ctx.Err())
	}
}

// signal sends sig to the process.
func (p *process) signal(t *testing.T, sig syscall.Signal) {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("send %v to the server: %v", sig, err)
	}
}

// runToExit runs the binary and waits (bounded by timeout) for it to exit.
func runToExit(t *testing.T, timeout time.Duration, env []string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	p := start(t, env, args...)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	code, err := p.wait(ctx)
	if err != nil {
		t.Fatalf("server %q: %v", args, err)
	}
	return code, p.stdout.String(), p.stderr.String()
}

// listenAddr waits for the "listening" log line and returns the address it names. The server
// is started on port 0 so that concurrent tests never race for a port.
func (p *process) listenAddr(ctx context.Context) (string, error) {
	return p.listenAddrOf(ctx, "api")
}

// listenAddrOf returns the address of the listener that serves what ("api" or "metrics").
func (p *process) listenAddrOf(ctx context.Context, what string) (string, error) {
	line, err := p.stderr.waitLine(ctx, p.done, func(line string) bool {
		var rec struct{ Msg, Addr, Serves string }
		return json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "listening" && rec.Addr != "" && rec.Serves == what
	})
	if err != nil {
		return "", fmt.Errorf("no \"listening\" log line: %w", err)
	}
	var rec struct{ Addr string }
	_ = json.Unmarshal([]byte(line), &rec)
	return rec.Addr, nil
}

// output collects what the process writes and wakes waiters on every write.
type output struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	changed chan struct{} // closed on the next write
}

func newOutput() *output { return &output{changed: make(chan struct{})} }

func (o *output) Write(b []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.buf.Write(b)
	close(o.changed)
	o.changed = make(chan struct{})
	return len(b), nil
}

func (o *output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}

// waitLine returns the first complete line satisfying match, waiting for more output until
// ctx ends or exited is closed (the process is gone, so no more output will come).
func (o *output) waitLine(ctx context.Context, exited <-chan struct{}, match func(string) bool) (string, error) {
	for {
		o.mu.Lock()
		text, changed := o.buf.String(), o.changed
		o.mu.Unlock()
		lines := strings.Split(text, "\n")
		for _, line := range lines[:len(lines)-1] { // the last element is an unfinished line
			if match(line) {
				return line, nil
			}
		}
		select {
		case <-changed:
		case <-exited:
			// Output is complete once Wait returned; look once more, then give up.
			if text != o.String() {
				continue
			}
			return "", errors.New("the process exited")
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}
}
