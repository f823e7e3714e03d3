package users_test

import (
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// /metrics needs no token and exports the HTTP, pool, breaker and database-operation series
// an operator watches.
func TestMetricsAreServedWithoutToken(t *testing.T) {
	u := register(t, "met")
	srv.Do(t, http.MethodGet, "/api/v1/users/"+u.ID, nil)
	srv.Do(t, http.MethodGet, "/api/v1/users/not-a-uuid", nil)

	resp := srv.Do(t, http.MethodGet, "/metrics", nil, "Authorization", "")
	require.Equal(t, http.StatusOK, resp.Status)
	body := string(resp.Body)
	for _, pattern := range []string{
		`usersvc_http_request_duration_seconds_count\{method="GET",route="/api/v1/users/:id",status="200"\} [1-9]`,
		`usersvc_http_request_duration_seconds_count\{method="GET",route="/api/v1/users/:id",status="400"\} [1-9]`,
		`usersvc_http_request_duration_seconds_count\{method="POST",route="/api/v1/users",status="201"\} [1-9]`,
		`usersvc_db_operations_total\{op="transact",outcome="ok"\} [1-9]`,
		`usersvc_db_attempts_total\{class="none",op="read"\} [1-9]`,
		`usersvc_db_breaker_state 0`,
		`go_sql_open_connections\{db_name="usersvc"\} \d`,
		`go_sql_wait_count_total\{db_name="usersvc"\} \d`,
	} {
		assert.Regexp(t, regexp.MustCompile(pattern), body)
	}
}

// Go accepts any token as a method; each one used to become a label value of its own, so
// anyone could grow /metrics (and the process's memory) without bound.
func TestMetricsStayBoundedUnderInventedMethods(t *testing.T) {
	metricsSize := func() int {
		resp := srv.Do(t, http.MethodGet, "/metrics", nil, "Authorization", "")
		require.Equal(t, http.StatusOK, resp.Status)
		return len(resp.Body)
	}
	srv.Do(t, "BOGUSWARMUP", "/api/v1/users", nil) // the "other" series exist from here on
	before := metricsSize()
	client := srv.Client(t) // validates each answer, like Do
	for i := range 1000 {
		method := fmt.Sprintf("X%0120d", i) // 1,000 distinct 121-byte methods
		req, err := http.NewRequest(method, srv.URL+"/api/v1/users", nil)
		require.NoError(t, err)
		resp, err := client.Do(req)
		require.NoError(t, err)
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		assert.Less(t, resp.StatusCode, 500, "an invented method is a client error")
	}
	after := metricsSize()
	assert.Less(t, after-before, 2000, "1,000 invented methods grew /metrics from %d to %d bytes", before, after)
	body := string(srv.Do(t, http.MethodGet, "/metrics", nil, "Authorization", "").Body)
	assert.False(t, strings.Contains(body, "X0000000"), "an invented method is a label value")
	assert.True(t, regexp.MustCompile(`usersvc_http_request_duration_seconds_count\{method="other",route="[^"]*",status="\d+"\} [1-9]`).MatchString(body),
		"invented methods are counted as method=\"other\"")
}
