package testapp_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"usersvc/app"
	"usersvc/tests/testapp"
)

// The validator every test server's clients use, on the app's real document: answers the
// document allows pass, and each kind of answer it does not allow — an undocumented status,
// route or header, a body off its schema — is an error naming the request and what is wrong.
func TestValidatorCatchesAnswersTheDocumentDoesNotAllow(t *testing.T) {
	doc, err := app.OpenAPI(app.Modules(app.Deps{}), app.Config{})
	if err != nil {
		t.Fatal(err)
	}
	v, err := testapp.NewValidator(doc)
	if err != nil {
		t.Fatal(err)
	}
	const id = "01a214bb-3d6a-71dd-a085-15f9ea2f5598"
	user := `{"id":"` + id + `","username":"ada","email":"ada@example.com","full_name":"","version":1,` +
		`"created_at":"2026-11-25T22:02:25Z","updated_at":"2026-11-25T22:02:25Z","deleted_at":null}`
	problem := func(status string) string { return `{"type":"about:blank","title":"x","status":` + status + `}` }
	json := http.Header{"Content-Type": {"application/json"}, "Etag": {`"1"`}}
	prob := http.Header{"Content-Type": {"application/problem+json"}}
	with := func(h http.Header, kv ...string) http.Header {
		h = h.Clone()
		for i := 0; i < len(kv); i += 2 {
			h.Set(kv[i], kv[i+1])
		}
		return h
	}
	for _, tc := range []struct {
		name, method, path string
		status             int
		header             http.Header
		body, want         string // want: "" for allowed, else part of the error
	}{
		{"a user", "GET", "/api/v1/users/" + id, 200, json, user, ""},
		{"a field the schema lacks", "GET", "/api/v1/users/" + id, 200, json,
			strings.Replace(user, `"version"`, `"role":"admin","version"`, 1), `property "role" is unsupported`},
		{"a required field missing", "GET", "/api/v1/users/" + id, 200, json,
			strings.Replace(user, `,"deleted_at":null`, "", 1), "deleted_at"},
		{"an id not in canonical form", "GET", "/api/v1/users/" + id, 200, json,
			strings.Replace(user, id, strings.ToUpper(id), 1), "/id"},
		{"no ETag", "GET", "/api/v1/users/" + id, 200, http.Header{"Content-Type": {"application/json"}}, user, `"ETag" missing`},
		{"a weak ETag", "GET", "/api/v1/users/" + id, 200, with(json, "ETag", `W/"1"`), user, `"ETag" doesn't match`},
		{"an undocumented status", "GET", "/api/v1/users", 500, prob, problem("500"), "status 500 is not documented"},
		{"a problem as application/json", "GET", "/api/v1/users/" + id, 404, json, problem("404"), "Content-Type"},
		{"a problem without status", "GET", "/api/v1/users/" + id, 404, prob, `{"type":"about:blank","title":"x"}`, "status"},
		{"HEAD like GET", "HEAD", "/api/v1/users/" + id, 200, json, "", ""},
		{"HEAD with a body", "HEAD", "/api/v1/users/" + id, 200, json, user, "a body where the document says there is none"},
		{"HEAD without the GET's ETag", "HEAD", "/api/v1/users/" + id, 200, http.Header{}, "", `"ETag" missing`},
		{"304 with its ETag", "GET", "/api/v1/users/" + id, 304, with(http.Header{}, "ETag", `"1"`), "", ""},
		{"304 without ETag", "GET", "/api/v1/users/" + id, 304, http.Header{}, "", `"ETag" missing`},
		{"204 with a body", "DELETE", "/api/v1/users/" + id, 204, json, user, "a body where the document says there is none"},
		{"401 with its challenge", "GET", "/api/v1/users", 401, with(prob, "WWW-Authenticate", `Bearer realm="api"`), problem("401"), ""},
		{"401 without a challenge", "GET", "/api/v1/users", 401, prob, problem("401"), `"WWW-Authenticate" missing`},
		{"429 with Retry-After", "POST", "/api/v1/teams", 429, with(prob, "Retry-After", "1"), problem("429"), ""},
		{"429 without Retry-After", "POST", "/api/v1/teams", 429, prob, problem("429"), `"Retry-After" missing`},
		{"503 without Retry-After", "GET", "/readyz", 503, prob, problem("503"), `"Retry-After" missing`},
		{"an audit entry with its actor", "GET", "/api/v1/teams/" + id + "/events", 200, json,
			`{"items":[{"id":1,"action":"created","changes":{},"at":"2026-11-25T22:02:25Z","actor":"ci"}],"next_cursor":null}`, ""},
		{"a path nobody serves: 404", "GET", "/api/v1/nothing-here", 404, prob, problem("404"), ""},
		{"a path nobody serves, yet 200", "GET", "/api/v1/nothing-here", 200, json, user, "status 200 is not documented"},
		{"a method the path lacks: 405 with Allow", "PUT", "/api/v1/users", 405, with(prob, "Allow", "GET, POST"), problem("405"), ""},
		{"405 without Allow", "PUT", "/api/v1/users", 405, prob, problem("405"), `"Allow" missing`},
		{"a method the path lacks, yet 200", "PUT", "/api/v1/users", 200, json, user, "status 200 is not documented"},
		{"net/http's own 431", "GET", "/healthz", 431, http.Header{"Content-Type": {"text/plain; charset=utf-8"}}, "431 Request Header Fields Too Large", ""},
		{"a 431 of the service's", "GET", "/healthz", 431, with(prob, "X-Request-ID", "x"), problem("431"), "status 431 is not documented"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := v.Check(httptest.NewRequest(tc.method, tc.path, nil), tc.status, tc.header, []byte(tc.body))
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("allowed answer refused: %v", err)
			case tc.want != "" && err == nil:
				t.Errorf("answer allowed; want an error saying %q", tc.want)
			case tc.want != "" && !strings.Contains(err.Error(), tc.want):
				t.Errorf("error %v; want it to say %q", err, tc.want)
			}
		})
	}
}
