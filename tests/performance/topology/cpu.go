package topology

import (
	"time"

	"usersvc/tests/performance/load"
)

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
	// Not steal: the hypervisor's time, not ours.
	if s.machine, err = load.MachineCPU(false); err != nil {
		return s
	}
	for _, p := range []struct {
		pid int
		dst *time.Duration
	}{{servicePID, &s.service}, {poolerPID, &s.pooler}, {generatorPID, &s.generator}} {
		if p.pid == 0 {
			continue
		}
		if *p.dst, err = load.ProcessCPU(p.pid); err != nil {
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
