package users_test

import (
	"net/http"
	"regexp"
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
