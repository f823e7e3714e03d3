package faultkit

import (
	"sync"
	"time"
)

// StallWatch notes when the test process itself was not running — descheduled on a busy
// machine, or stopped by the (race detector's) garbage collector — so that a latency bound
// on a request served in-process can tell the service's slowness from the process's: a
// goroutine sleeps 1ms at a time and records every wake-up that came over 10ms late.
type StallWatch struct {
	mu     sync.Mutex
	stalls [][2]time.Time
	stop   chan struct{}
	done   chan struct{}
}

// WatchStalls starts a watch; Stop it when done.
func WatchStalls() *StallWatch {
	w := &StallWatch{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		for {
			before := time.Now()
			select {
			case <-w.stop:
				return
			case <-time.After(time.Millisecond):
			}
			if now := time.Now(); now.Sub(before) > 11*time.Millisecond {
				w.mu.Lock()
				w.stalls = append(w.stalls, [2]time.Time{before.Add(time.Millisecond), now})
				w.mu.Unlock()
			}
		}
	}()
	return w
}

// Stop ends the watch.
func (w *StallWatch) Stop() {
	close(w.stop)
	<-w.done
}

// During is how long the process stalled between from and to.
func (w *StallWatch) During(from, to time.Time) time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	total := time.Duration(0)
	for _, s := range w.stalls {
		if lo, hi := later(s[0], from), earlier(s[1], to); hi.After(lo) {
			total += hi.Sub(lo)
		}
	}
	return total
}

// Unstalled is elapsed, which began at start, less the time the process stalled meanwhile.
func (w *StallWatch) Unstalled(start time.Time, elapsed time.Duration) time.Duration {
	return elapsed - w.During(start, start.Add(elapsed))
}

// Total is how many stalls there were and how long they lasted in all.
func (w *StallWatch) Total() (int, time.Duration) {
	w.mu.Lock()
	defer w.mu.Unlock()
	sum := time.Duration(0)
	for _, s := range w.stalls {
		sum += s[1].Sub(s[0])
	}
	return len(w.stalls), sum
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func earlier(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
