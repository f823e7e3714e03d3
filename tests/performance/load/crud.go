package load

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"usersvc/tests/performance/perfkit"
)

func crudSuite() perfkit.Runner {
	return perfkit.Runner{ID: "01-crud-http", Run: runCRUD}
}

// runCRUD measures each write and read of a user's life through HTTP, one operation at a
// time, on users the suite registers itself: create, then get, update, delete and restore
// those users.
func runCRUD(ctx context.Context, env *perfkit.Env) (s perfkit.Suite, err error) {
	s = perfkit.Suite{ID: "01-crud-http", Title: "CRUD through HTTP", Summary: fmt.Sprintf(
		"Each operation of a user's life through the real binary (pool %d) at %d concurrent clients "+
			"(= pool size), a closed loop (vegeta, no pacing, one worker per client) for up to %s each: "+
			"POST /users registers new users; GET /users/{id} and PATCH /users/{id} (a new full_name, so "+
			"every PATCH writes a version and an event) cycle through them; DELETE /users/{id} and then "+
			"POST /users/{id}/restore use each of them once (so these steps end early when the users run "+
			"out). Every answer must be the documented success status (201, 200, 200, 204, 200); "+
			"anything else is counted as an error and named.",
		env.PoolSize, env.PoolSize, env.Profile.Step)}
	r, err := newRig(env)
	if err != nil {
		return s, err
	}
	defer r.finish(ctx, &s, &err)
	if err := r.start(ctx, env.PoolSize); err != nil {
		return s, err
	}
	var created, deleted []string
	idFrom := func(path string) string { return path[strings.LastIndexByte(path, '/')+1:] }
	steps := []struct {
		key, label string
		target     func() vegeta.Targeter
		check      func(*vegeta.Result) string
	}{
		{"create", "POST /users", func() vegeta.Targeter { return r.t.register }, func(res *vegeta.Result) string {
			loc := res.Headers.Get("Location")
			if res.Code != http.StatusCreated || loc == "" {
				return problemLabel(res)
			}
			created = append(created, idFrom(loc))
			return ""
		}},
		{"get", "GET /users/{id}", func() vegeta.Targeter { return cycle(r.t, created, http.MethodGet, nil) }, nil},
		{"update", "PATCH /users/{id}", func() vegeta.Targeter {
			return cycle(r.t, created, http.MethodPatch, func(k int) []byte { return fmt.Appendf(nil, `{"full_name":"Perf Patch %d"}`, k) })
		}, nil},
		{"delete", "DELETE /users/{id}", func() vegeta.Targeter {
			return each(created, func(_ int, id string, tgt *vegeta.Target) {
				*tgt = vegeta.Target{Method: http.MethodDelete, URL: r.t.api + "/users/" + id, Header: r.t.get}
			})
		}, func(res *vegeta.Result) string {
			if res.Code != http.StatusNoContent {
				return problemLabel(res)
			}
			deleted = append(deleted, idFrom(res.URL))
			return ""
		}},
		{"restore", "POST /users/{id}/restore", func() vegeta.Targeter {
			return each(deleted, func(_ int, id string, tgt *vegeta.Target) {
				*tgt = vegeta.Target{Method: http.MethodPost, URL: r.t.api + "/users/" + id + "/restore", Header: r.t.get}
			})
		}, expectStatus(map[string]int{http.MethodPost: http.StatusOK})},
	}
	table := perfkit.Table{
		Caption: fmt.Sprintf("%d clients, pool %d, up to %s per operation", env.PoolSize, env.PoolSize, env.Profile.Step),
		Header:  append(append([]string{"Operation", "Requests", "Req/s"}, latencyHeader...), "Errors"),
	}
	errs := 0
	for _, st := range steps {
		out, _, err := r.step(ctx, load{name: st.key, clients: env.PoolSize, dur: env.Profile.Step, target: st.target(), check: st.check})
		if err != nil {
			return s, fmt.Errorf("load: %s: %w", st.label, err)
		}
		t := out.all
		table.Rows = append(table.Rows, append(append([]string{st.label, itoa(t.requests()), rps(t.rps())}, latencyCells(t)...), errorsCell(t)))
		s.Higher("crud_"+st.key+"_rps", t.rps())
		s.Metric("crud_"+st.key+"_p99_ms", msOf(t.q(0.99)))
		errs += t.bad
	}
	s.Tables = append(s.Tables, table)
	s.Metric("errors", float64(errs))
	tg := perfkit.Target{Name: "CRUD through HTTP: every request gets its documented status", Want: "0 errors",
		Got: fmt.Sprintf("%d errors", errs), Met: errs == 0}
	if !tg.Met {
		tg.Gap = tg.Got
	}
	s.Targets = append(s.Targets, tg)
	s.Notes = append(s.Notes, fmt.Sprintf("%d users registered, then %d of them deleted; DELETE and restore use each user "+
		"once (restore only the deleted ones), so either step ends before %s if its users run out.",
		len(created), len(deleted), env.Profile.Step))
	return s, nil
}

// cycle returns a targeter that sends method to the users ids in turn, round and round,
// with body(k) as the JSON body when body is not nil.
func cycle(t *targets, ids []string, method string, body func(k int) []byte) vegeta.Targeter {
	var next atomic.Int64
	return func(tgt *vegeta.Target) error {
		if len(ids) == 0 {
			return vegeta.ErrNoTargets
		}
		k := int(next.Add(1) - 1)
		*tgt = vegeta.Target{Method: method, URL: t.api + "/users/" + ids[k%len(ids)], Header: t.get}
		if body != nil {
			tgt.Header, tgt.Body = t.post, body(k)
		}
		return nil
	}
}
