package app

import (
	"log/slog"
	"runtime/debug"
	"testing"

	"github.com/stretchr/testify/assert"
)

// keepRuntime restores the collector's settings after a test that changes them.
func keepRuntime(t *testing.T) {
	gc, limit := debug.SetGCPercent(-1), debug.SetMemoryLimit(-1)
	debug.SetGCPercent(gc)
	t.Cleanup(func() {
		debug.SetGCPercent(gc)
		debug.SetMemoryLimit(limit)
	})
}

func currentGCPercent() int {
	gc := debug.SetGCPercent(-1)
	debug.SetGCPercent(gc)
	return gc
}

func TestApplyRuntimeSetsTheCollector(t *testing.T) {
	keepRuntime(t)
	applyRuntime(RuntimeConfig{GCPercent: 321, MemoryLimitBytes: 1 << 30}, nil, slog.New(slog.DiscardHandler))
	assert.Equal(t, 321, currentGCPercent())
	assert.Equal(t, int64(1<<30), debug.SetMemoryLimit(-1))
}

func TestApplyRuntimeLeavesGoVariablesAlone(t *testing.T) {
	keepRuntime(t)
	debug.SetGCPercent(150)
	debug.SetMemoryLimit(1 << 40)
	applyRuntime(RuntimeConfig{GCPercent: 321, MemoryLimitBytes: 1 << 30}, []string{"GOGC=150", "GOMEMLIMIT=1TiB"},
		slog.New(slog.DiscardHandler))
	assert.Equal(t, 150, currentGCPercent(), "GOGC in the environment wins")
	assert.Equal(t, int64(1<<40), debug.SetMemoryLimit(-1), "GOMEMLIMIT in the environment wins")
}
