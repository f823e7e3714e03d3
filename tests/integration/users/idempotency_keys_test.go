package users_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"usersvc/tests/testapp"
)

// Issue 10, finding 7: a blank Idempotency-Key was read as no key (the write ran unprotected,
// and its retry would write again); two keys are as ambiguous.
func TestBlankOrRepeatedIdempotencyKeyIsBadRequest(t *testing.T) {
	name := "blankkey" + unique()
	body := map[string]string{"username": name, "email": name + "@x.io"}
	unchanged(t, func() {
		requireProblem(t, srv.Do(t, http.MethodPost, "/api/v1/users", body, "Idempotency-Key", "   "),
			http.StatusBadRequest, "Idempotency-Key must be 1 to 255 printable ASCII characters")

		req, err := http.NewRequest(http.MethodPost, srv.URL+"/api/v1/users",
			bytes.NewBufferString(fmt.Sprintf(`{"username":%q,"email":"%s@x.io"}`, name, name)))
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+testapp.Token)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Add("Idempotency-Key", "k1-"+name)
		req.Header.Add("Idempotency-Key", "k2-"+name)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		data, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		requireProblem(t, &testapp.Response{Status: resp.StatusCode, Header: resp.Header, Body: data},
			http.StatusBadRequest, "send one Idempotency-Key header, got 2")
	})
}

// Issue 10, finding 7: the key space was a digest of the raw Authorization header, so
// "Bearer" and "bearer" spellings of one token were two clients and a retry wrote twice. Keys
// belong to the token's name now.
func TestIdempotencyKeySpaceIsTheTokensWhateverItsSpelling(t *testing.T) {
	name := "spelling" + unique()
	key := "key-" + unique()
	body := map[string]string{"username": name, "email": name + "@x.io"}
	first := srv.Do(t, http.MethodPost, "/api/v1/users", body, "Idempotency-Key", key)
	require.Equal(t, http.StatusCreated, first.Status, "%s", first.Body)

	again := srv.Do(t, http.MethodPost, "/api/v1/users", body, "Idempotency-Key", key, "Authorization", "bearer   "+testapp.Token)
	assert.Equal(t, http.StatusCreated, again.Status, "%s", again.Body)
	assert.Equal(t, "true", again.Header.Get("Idempotent-Replayed"), "the same token's key, replayed")
	assert.Equal(t, string(first.Body), string(again.Body))
	assert.EqualValues(t, 1, countUsers(t, srv, name))
}
