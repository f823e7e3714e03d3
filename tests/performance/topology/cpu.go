package topology

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// clockTick is the unit of /proc CPU times (USER_HZ, 100 on Linux).
const clockTick = 10 * time.Millisecond

// cpuSample is CPU time used so far by the whole machine and by three processes: the
// service, PgBouncer and the load generator (0 pid: not sampled). ok is false when /proc
// could not be read.
type cpuSample struct {
	machine, service, pooler, generator time.Duration
	ok                                  bool
}

func sampleCPU(servicePID, poolerPID, generatorPID int) cpuSample {
	var s cpuSample
	var err error
	if s.machine, err = machineCPU(); err != nil {
		return s
	}
	for _, p := range []struct {
		pid int
		dst *time.Duration
	}{{servicePID, &s.service}, {poolerPID, &s.pooler}, {generatorPID, &s.generator}} {
		if p.pid == 0 {
			continue
		}
		if *p.dst, err = processCPU(p.pid); err != nil {
			return s
		}
	}
	s.ok = true
	return s
}

// cpuSplit is CPU time per request (or transaction) by who spent it. rest is the machine's
// busy time less the other three: PostgreSQL's backends (primary and standby) and whatever
// else ran.
type cpuSplit struct {
	total, service, pooler, generator, rest time.Duration
	ok                                      bool
}

// split divides what the machine spent between before and after over n operations.
// generator, when positive, replaces the load generator's time from the samples (a child
// that has exited: its rusage).
func split(before, after cpuSample, generator time.Duration, n int64) cpuSplit {
	if !before.ok || !after.ok || n <= 0 {
		return cpuSplit{}
	}
	total := after.machine - before.machine
	service := after.service - before.service
	pooler := after.pooler - before.pooler
	if generator <= 0 {
		generator = after.generator - before.generator
	}
	d := time.Duration(n)
	return cpuSplit{total: total / d, service: service / d, pooler: pooler / d, generator: generator / d,
		rest: max(0, total-service-pooler-generator) / d, ok: true}
}

// machineCPU is the busy time of all CPUs together since boot (/proc/stat, first line).
func machineCPU() (time.Duration, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line) // cpu user nice system idle iowait irq softirq steal …
	if len(f) < 9 || f[0] != "cpu" {
		return 0, fmt.Errorf("topology: unreadable /proc/stat")
	}
	var busy int64
	// user, nice, system, irq, softirq; not steal: the hypervisor's, not ours.
	for _, i := range []int{1, 2, 3, 6, 7} {
		v, err := strconv.ParseInt(f[i], 10, 64)
		if err != nil {
			return 0, err
		}
		busy += v
	}
	return time.Duration(busy) * clockTick, nil
}

// processCPU is user + system time of pid, all its threads (/proc/<pid>/stat fields 14, 15).
func processCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces; the fields after it follow its ')'.
	_, rest, ok := strings.Cut(string(b), ") ")
	f := strings.Fields(rest)
	if !ok || len(f) < 13 {
		return 0, fmt.Errorf("topology: unreadable /proc/%d/stat", pid)
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("topology: unreadable /proc/%d/stat", pid)
	}
	return time.Duration(utime+stime) * clockTick, nil
}
