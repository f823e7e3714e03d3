package server_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// metrics.addr moves /metrics from the API listener to a listener of its own.
func TestMetricsOnASeparateListener(t *testing.T) {
	s := serve(t, serverEnv(newDatabase(t, "metrics_addr"), "USERSVC_METRICS__ADDR=127.0.0.1:0"))
	s.waitReady(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	metricsAddr, err := s.listenAddrOf(ctx, "metrics")
	require.NoError(t, err)

	// The metrics listener is not the API: the API document has /metrics only where the API
	// listener serves it (the next assertion), so this answer is not validated against it.
	resp, err := http.Get("http://" + metricsAddr + "/metrics")
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.True(t, strings.Contains(string(body), "usersvc_db_breaker_state"), "metrics exported")

	assert.Equal(t, http.StatusNotFound, s.do(t, http.MethodGet, "/metrics", "", "").status, "not on the API listener")
	s.stop(t)
}
