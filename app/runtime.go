package app

import (
	"log/slog"
	"runtime/debug"
)

// RuntimeConfig tunes Go's garbage collector for `serve`.
type RuntimeConfig struct {
	// GCPercent is GOGC: how far the heap grows past the live heap before a collection.
	// The service's live heap is a few MB, so Go's default of 100 collects every few hundred
	// requests: the collector was ~6% of the CPU profile of GET /users/{id} under load at 100
	// and ~4% at 400 (make perf, suite 11), for tens of MB more heap. A small gain, within the
	// noise of one run's throughput; the knob is here for deployments that want the memory
	// back (100) or less collection. The GOGC variable wins.
	GCPercent int `koanf:"gc_percent"`
	// MemoryLimitBytes is GOMEMLIMIT: a soft cap on the Go heap that makes the collector run
	// more often near it; 0 sets none. The GOMEMLIMIT variable wins.
	MemoryLimitBytes int64 `koanf:"memory_limit_bytes"`
}

// applyRuntime sets the collector's target and memory limit from cfg, unless the process
// environment sets GOGC or GOMEMLIMIT (Go's own knobs keep their meaning), and logs what
// was asked for.
func applyRuntime(cfg RuntimeConfig, environ []string, log *slog.Logger) {
	gogc, gomemlimit := lookupEnv(environ, "GOGC"), lookupEnv(environ, "GOMEMLIMIT")
	if gogc == "" {
		debug.SetGCPercent(cfg.GCPercent)
	}
	if gomemlimit == "" && cfg.MemoryLimitBytes > 0 {
		debug.SetMemoryLimit(cfg.MemoryLimitBytes)
	}
	log.Debug("go runtime", "gc_percent", cfg.GCPercent, "memory_limit_bytes", cfg.MemoryLimitBytes,
		"GOGC", gogc, "GOMEMLIMIT", gomemlimit)
}
