package server_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// http.max_header_bytes bounds what one request's headers may hold (Go's default is 1 MiB):
// beyond it the server answers 431 before any handler runs.
func TestOversizedHeadersAreRefused(t *testing.T) {
	s := serve(t, serverEnv(newDatabase(t, "max_header"), "USERSVC_HTTP__MAX_HEADER_BYTES=8192"))
	s.waitReady(t)
	send := func(size int) int {
		req, err := http.NewRequest(http.MethodGet, s.base+"/healthz", nil)
		require.NoError(t, err)
		req.Header.Set("X-Padding", strings.Repeat("a", size))
		resp, err := client.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	assert.Equal(t, http.StatusOK, send(4000), "under the limit")
	assert.Equal(t, http.StatusRequestHeaderFieldsTooLarge, send(64<<10), "over the limit")
	s.stop(t)
}
