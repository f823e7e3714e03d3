package load

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"sync/atomic"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"usersvc/tests/performance/perfkit"
)

// targets builds the requests of one suite against one server. Every user it registers
// has a username starting with prefix, so the suite can delete them when it is done.
type targets struct {
	api    string // http://127.0.0.1:port/api/v1
	data   perfkit.SeedInfo
	prefix string        // "pl" + 8 random hex digits: this suite run's usernames
	n      atomic.Uint64 // requests built: picks the seeded user, numbers the username
	mix    atomic.Uint64
	get    http.Header
	post   http.Header
}

func newTargets(data perfkit.SeedInfo) (*targets, error) {
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	auth := "Bearer " + perfkit.Token
	return &targets{
		data:   data,
		prefix: "pl" + hex.EncodeToString(b),
		get:    http.Header{"Authorization": {auth}},
		post:   http.Header{"Authorization": {auth}, "Content-Type": {"application/json"}},
	}, nil
}

// at points the targets at a (re)started server.
func (t *targets) at(s *Server) { t.api = s.base + "/api/v1" }

// likePattern matches every username this suite registered (LIKE, '_' escaped).
func (t *targets) likePattern() string { return t.prefix + `\_%` }

// scatter maps the k-th read to a seeded user far from the (k-1)-th, as random keys would be:
// reading neighbours in order would find their index and heap pages already cached.
func scatter(k uint64) int { return int(k * 7919) }

// getUser reads seeded live users, scattered: GET /users/{id}.
func (t *targets) getUser(tgt *vegeta.Target) error {
	i := t.data.LiveUser(scatter(t.n.Add(1)))
	*tgt = vegeta.Target{Method: http.MethodGet, URL: t.api + "/users/" + perfkit.ID(i).String(), Header: t.get}
	return nil
}

// register registers a new user with a username never used before: POST /users.
func (t *targets) register(tgt *vegeta.Target) error {
	name := t.prefix + "_" + strconv.FormatUint(t.n.Add(1), 36)
	body := fmt.Sprintf(`{"username":%q,"email":%q,"full_name":"Perf Load"}`, name, name+"@example.com")
	*tgt = vegeta.Target{Method: http.MethodPost, URL: t.api + "/users", Header: t.post, Body: []byte(body)}
	return nil
}

// listPage reads the first page of 25, oldest first: GET /users?limit=25.
func (t *targets) listPage(tgt *vegeta.Target) error {
	*tgt = vegeta.Target{Method: http.MethodGet, URL: t.api + "/users?limit=25", Header: t.get}
	return nil
}

// lookupEmail finds seeded live users, scattered, by their email (mixed case): GET /users?email=….
func (t *targets) lookupEmail(tgt *vegeta.Target) error {
	i := t.data.LiveUser(scatter(t.n.Add(1)))
	*tgt = vegeta.Target{Method: http.MethodGet, URL: t.api + "/users?email=" + url.QueryEscape(perfkit.Email(i)), Header: t.get}
	return nil
}

// mixed sends one registration for every four reads.
func (t *targets) mixed(tgt *vegeta.Target) error {
	if t.mix.Add(1)%5 == 0 {
		return t.register(tgt)
	}
	return t.getUser(tgt)
}

// each returns a targeter that uses each of ids once, in order, through build; then it
// reports vegeta.ErrNoTargets, which ends the attack.
func each(ids []string, build func(k int, id string, tgt *vegeta.Target)) vegeta.Targeter {
	var next atomic.Int64
	return func(tgt *vegeta.Target) error {
		k := int(next.Add(1) - 1)
		if k >= len(ids) {
			return vegeta.ErrNoTargets
		}
		build(k, ids[k], tgt)
		return nil
	}
}
