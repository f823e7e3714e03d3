package users_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// lookAlike is a pair of issue 10, finding 2: second looks like first. Both are patterns
// with %s for a run's digits (digits go with any script). Registering second while first is
// live must be refused: 400 when second is no acceptable address, else 409.
type lookAlike struct {
	name, first, second string
	status              int
	detail              string // what the 400's detail says of the email
}

var lookAlikes = []lookAlike{
	{"zero-width space inside", "ada%s@example.com", "a\u200bda%s@example.com", http.StatusBadRequest, "email contains U+200B, an invisible format character"},
	{"right-to-left override", "ada%s@example.com", "\u202eada%s@example.com", http.StatusBadRequest, "email contains U+202E, an invisible format character"},
	{"fullwidth letters", "ada%s@example.com", "\uff41\uff44\uff41%s@example.com", http.StatusConflict, ""},
	{"Kelvin sign and K", "kelvin%s@example.com", "\u212aelvin%s@example.com", http.StatusConflict, ""},
	{"dotless i and i", "admin%s@example.com", "adm\u0131n%s@example.com", http.StatusConflict, ""},
	{"Cyrillic x and Latin x", "xavier%s@example.com", "\u0445avier%s@example.com", http.StatusBadRequest, "email mixes Cyrillic (U+0445) and Latin (U+0061) letters"},
	{"all-Cyrillic look-alike", "paypal%s@example.com", "\u0440\u0430\u0443\u0440\u0430\u04cf%s@example.com", http.StatusConflict, ""},
	{"NFC and NFD e-acute", "jos\u00e9%s@example.com", "jose\u0301%s@example.com", http.StatusConflict, ""},
	{"A and a with diaeresis", "\u00e4nne%s@example.com", "\u00c4nne%s@example.com", http.StatusConflict, ""},
	{"Unicode domain and its punycode", "ada%s@b\u00fccher.example", "ada%s@xn--bcher-kva.example", http.StatusConflict, ""},
}

// digits is a fresh run of digits, so addresses of one test do not meet another's.
func digits() string {
	n, err := strconv.ParseUint(unique(), 16, 64)
	if err != nil {
		panic(err)
	}
	return strconv.FormatUint(n, 10)
}

// registerEmail registers a user with email and a fresh username; 201 expected.
func registerEmail(t *testing.T, email string) user {
	t.Helper()
	resp := srv.Do(t, http.MethodPost, "/api/v1/users", map[string]string{"username": "la" + unique(), "email": email})
	require.Equal(t, http.StatusCreated, resp.Status, "register %q: %s", email, resp.Body)
	var u user
	resp.JSON(t, &u)
	return u
}

// want is the detail a refused second address gets: conflict for a 409, else the 400's
// detail after the given prefix.
func (la lookAlike) want(conflict string, prefix ...string) string {
	if la.status == http.StatusConflict {
		return conflict
	}
	if len(prefix) > 0 {
		return prefix[0] + la.detail
	}
	return la.detail
}

func TestLookAlikeEmailsCannotBothRegister(t *testing.T) {
	for _, la := range lookAlikes {
		t.Run(la.name, func(t *testing.T) {
			n := digits()
			registerEmail(t, fmt.Sprintf(la.first, n))
			unchanged(t, func() {
				resp := srv.Do(t, http.MethodPost, "/api/v1/users", map[string]string{
					"username": "lb" + unique(), "email": fmt.Sprintf(la.second, n)})
				requireProblem(t, resp, la.status, la.want("email is already taken"))
			})
		})
	}
}

func TestLookAlikeEmailsCannotShareABatch(t *testing.T) {
	for _, la := range lookAlikes {
		t.Run(la.name, func(t *testing.T) {
			n := digits()
			items := []map[string]string{
				{"username": "lc" + unique(), "email": fmt.Sprintf(la.first, n)},
				{"username": "ld" + unique(), "email": fmt.Sprintf(la.second, n)},
			}
			unchanged(t, func() {
				resp := srv.Do(t, http.MethodPost, "/api/v1/users/batch", map[string]any{"users": items})
				requireProblem(t, resp, la.status, "users[1]"+la.want(": email is already taken by users[0]", "."))
			})
		})
	}
}

func TestLookAlikeEmailCannotBePatchedIn(t *testing.T) {
	for _, la := range lookAlikes {
		t.Run(la.name, func(t *testing.T) {
			n := digits()
			registerEmail(t, fmt.Sprintf(la.first, n))
			other := registerEmail(t, "other"+n+"@example.com")
			unchanged(t, func() {
				resp := srv.Do(t, http.MethodPatch, "/api/v1/users/"+other.ID, map[string]string{"email": fmt.Sprintf(la.second, n)})
				requireProblem(t, resp, la.status, la.want("email is already taken"))
			})
		})
	}
}

// A user deleted while a look-alike of its email registered cannot come back beside it.
func TestLookAlikeEmailBlocksRestore(t *testing.T) {
	for _, la := range lookAlikes {
		if la.status != http.StatusConflict {
			continue // the second address cannot be registered at all
		}
		t.Run(la.name, func(t *testing.T) {
			n := digits()
			first := registerEmail(t, fmt.Sprintf(la.first, n))
			require.Equal(t, http.StatusNoContent, srv.Do(t, http.MethodDelete, "/api/v1/users/"+first.ID, nil).Status)
			registerEmail(t, fmt.Sprintf(la.second, n))
			unchanged(t, func() {
				resp := srv.Do(t, http.MethodPost, "/api/v1/users/"+first.ID+"/restore", nil)
				requireProblem(t, resp, http.StatusConflict, "cannot restore: a live user now has this email")
			})
		})
	}
}

// What the API returns is the stored, normalised address; an exact lookup finds it by any
// of its written forms that normalise to it.
func TestEmailIsStoredNormalised(t *testing.T) {
	n := digits()
	u := registerEmail(t, "J\u00fcrgen.Ada+Tag"+n+"@B\u00dcCHER.Example")
	assert.Equal(t, "J\u00fcrgen.Ada+Tag"+n+"@xn--bcher-kva.example", u.Email)
	got := srv.Do(t, http.MethodGet, "/api/v1/users/"+u.ID, nil)
	var again user
	got.JSON(t, &again)
	assert.Equal(t, u.Email, again.Email)
	for _, q := range []string{u.Email, "J\u00fcrgen.Ada+Tag" + n + "@b\u00fccher.example", "J\u00fcrgen.ADA+TAG" + n + "@XN--BCHER-KVA.EXAMPLE"} {
		assert.Equal(t, []string{u.Username}, usernames(list(t, url.Values{"email": {q}})), "email=%s", q)
	}
	assert.Equal(t, []string{u.Username}, usernames(list(t, url.Values{"q": {"j\u00fcrgen.ada+tag" + n}})), "prefix search")

	// Dots and +tags make other addresses.
	registerEmail(t, "J\u00fcrgen.Ada"+n+"@b\u00fccher.example")
	registerEmail(t, "J\u00fcrgenAda+Tag"+n+"@b\u00fccher.example")
}

// A PATCH that gives the email again (in another written form) with another change keeps the
// email's key: the user's look-alikes are still refused afterwards.
func TestPatchGivingTheSameEmailKeepsItsKey(t *testing.T) {
	n := digits()
	u := registerEmail(t, "kelvin"+n+"@example.com")
	got := patch(t, u.ID, map[string]string{"email": "\u212aelvin" + n + "@EXAMPLE.com", "full_name": "Lord Kelvin"})
	assert.Equal(t, "Kelvin"+n+"@example.com", got.Email, "the normal form of the given email")
	var key string
	require.NoError(t, srv.DB.Raw("SELECT email_key FROM users WHERE id = ?", u.ID).Scan(&key).Error)
	assert.Equal(t, "kelvin"+n+"@example.com", key)
	unchanged(t, func() {
		resp := srv.Do(t, http.MethodPost, "/api/v1/users", map[string]string{"username": "lk" + unique(), "email": "KELVIN" + n + "@example.com"})
		requireProblem(t, resp, http.StatusConflict, "email is already taken")
	})
}
