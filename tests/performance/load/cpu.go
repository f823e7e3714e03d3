package load

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// clockTick is the unit of /proc CPU times (USER_HZ, 100 on Linux).
const clockTick = 10 * time.Millisecond

// cpuSample is CPU time used so far: the whole machine, the server process and this process
// (the load generator). Where /proc cannot be read the fields stay 0 and ok is false.
type cpuSample struct {
	machine, server, self time.Duration
	ok                    bool
}

// sampleCPU reads the CPU times now; serverPID 0 means no server process.
func sampleCPU(serverPID int) cpuSample {
	var s cpuSample
	var err error
	if s.machine, err = MachineCPU(true); err != nil {
		return s
	}
	if serverPID != 0 {
		if s.server, err = ProcessCPU(serverPID); err != nil {
			return s
		}
	}
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return s
	}
	s.self = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	s.ok = true
	return s
}

// cpuSplit is CPU time per request (or transaction) by who spent it: the service, the
// load generator (client), and database: the rest of the machine, PostgreSQL plus whatever
// else ran meanwhile.
type cpuSplit struct {
	total, server, client, database time.Duration
	ok                              bool
}

// splitHTTP divides what the machine spent between before and after over n requests.
func splitHTTP(before, after cpuSample, n int) cpuSplit {
	if !before.ok || !after.ok || n == 0 {
		return cpuSplit{}
	}
	total := after.machine - before.machine
	server := after.server - before.server
	client := after.self - before.self
	return perOp(total, server, client, n)
}

// splitChild divides the machine's CPU over n requests (or transactions) sent by a child
// process (pgbench, wrk) whose own CPU was client; the server's is the change between the
// samples (none when they were taken without a server).
func splitChild(before, after cpuSample, client time.Duration, n int) cpuSplit {
	if !before.ok || !after.ok || n == 0 {
		return cpuSplit{}
	}
	return perOp(after.machine-before.machine, after.server-before.server, client, n)
}

func perOp(total, server, client time.Duration, n int) cpuSplit {
	d := time.Duration(n)
	return cpuSplit{total: total / d, server: server / d, client: client / d,
		database: max(0, total-server-client) / d, ok: true}
}

func (c cpuSplit) cells() []string {
	if !c.ok {
		return []string{"–", "–", "–", "–"}
	}
	us := func(d time.Duration) string { return fmt.Sprintf("%.0f", float64(d)/1e3) }
	server := us(c.server)
	if c.server == 0 {
		server = "–"
	}
	return []string{us(c.total), server, us(c.client), us(c.database)}
}

// MachineCPU is the busy time of all CPUs together since boot (/proc/stat, first line):
// user, nice, system, irq and softirq, and with steal the time the hypervisor gave to
// others while this machine wanted the CPU.
func MachineCPU(steal bool) (time.Duration, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line) // cpu user nice system idle iowait irq softirq steal …
	if len(f) < 9 || f[0] != "cpu" {
		return 0, fmt.Errorf("load: unreadable /proc/stat")
	}
	fields := []int{1, 2, 3, 6, 7}
	if steal {
		fields = append(fields, 8)
	}
	var busy int64
	for _, i := range fields {
		v, err := strconv.ParseInt(f[i], 10, 64)
		if err != nil {
			return 0, err
		}
		busy += v
	}
	return time.Duration(busy) * clockTick, nil
}

// ProcessCPU is user + system time of pid, all its threads (/proc/<pid>/stat fields 14
// and 15).
func ProcessCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces; the fields after it follow its ')'.
	_, rest, ok := strings.Cut(string(b), ") ")
	f := strings.Fields(rest)
	if !ok || len(f) < 13 {
		return 0, fmt.Errorf("load: unreadable /proc/%d/stat", pid)
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("load: unreadable /proc/%d/stat", pid)
	}
	return time.Duration(utime+stime) * clockTick, nil
}
