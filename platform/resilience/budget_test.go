package resilience

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestRetryBudgetThrottlesAStormAndRefills(t *testing.T) {
	b := NewRetryBudget(10, 0.5)
	assert.True(t, b.Allow(), "a full budget allows retries")
	for i := 0; i < 5; i++ {
		b.Failed()
	}
	assert.False(t, b.Allow(), "half the bucket gone: no more retries")
	for i := 0; i < 100; i++ {
		b.Failed()
	}
	assert.False(t, b.Allow())
	for i := 0; i < 11; i++ { // 0 → 5.5 tokens
		b.Succeeded()
	}
	assert.True(t, b.Allow(), "successes refill it")
	var none *RetryBudget
	assert.True(t, none.Allow(), "no budget: retries always allowed")
}
