package resilience

import "sync"

// RetryBudget throttles retries across all callers, the way gRPC's retry throttling does: a
// bucket of tokens starts full; every failed attempt takes one, every success gives back
// TokenRatio; retries are allowed only while more than half the bucket is left. When many
// callers fail at once (a retry storm against a dead database), retrying stops after a
// handful of failures instead of multiplying the load by the attempt count; when attempts
// succeed again the bucket refills. One request still has one outcome for the breaker.
type RetryBudget struct {
	mu     sync.Mutex
	tokens float64
	max    float64
	ratio  float64
}

// NewRetryBudget returns a full budget of maxTokens that refills ratio per success.
func NewRetryBudget(maxTokens, ratio float64) *RetryBudget {
	return &RetryBudget{tokens: maxTokens, max: maxTokens, ratio: ratio}
}

// Allow reports whether a retry may be made now.
func (b *RetryBudget) Allow() bool {
	if b == nil {
		return true
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.tokens > b.max/2
}

// Failed records a failed attempt.
func (b *RetryBudget) Failed() {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.tokens = max(b.tokens-1, 0)
}

// Succeeded records a successful attempt.
func (b *RetryBudget) Succeeded() {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.tokens = min(b.tokens+b.ratio, b.max)
}
