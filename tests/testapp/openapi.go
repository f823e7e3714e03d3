package testapp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"usersvc/app"
)

// Validator checks answers against the service's OpenAPI document with kin-openapi's
// openapi3filter: the status must be documented for the request's operation, and the headers
// and body must match what the document says of it. Safe for concurrent use.
//
// What the document cannot list is decided here, explicitly:
//   - HEAD is answered like the GET of the same path, without a body (the document says so
//     once, in its description): it is checked as that GET, headers only, and must have no body.
//   - A path the document does not list may only get what the service answers for any path
//     it does not serve: 404, or what the middleware in front of the router answers first
//     (400, 401, 413, 429); a method the path does not list likewise, with 405 instead of 404.
//     The app's routes themselves are held to the document by App.CheckOpenAPI, so no route
//     the document lacks can answer anything else.
//   - Answers Go's net/http server gives before the service sees the request (see
//     fromNetHTTP) are not the service's and are not checked.
type Validator struct {
	doc      *openapi3.T
	router   routers.Router
	notFound *openapi3.Operation // any path the document does not list
	notAllow *openapi3.Operation // a listed path with a method it does not list
}

// NewValidator checks answers against doc, a loaded and validated document.
func NewValidator(doc *openapi3.T) (*Validator, error) {
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		return nil, fmt.Errorf("openapi: router: %w", err)
	}
	before := map[int]string{400: "BadRequest", 401: "Unauthorized", 413: "ContentTooLarge", 429: "TooManyRequests"}
	notFound, err := operation(doc, before, 404, "NotFound")
	if err != nil {
		return nil, err
	}
	notAllow, err := operation(doc, before, 405, "MethodNotAllowed")
	if err != nil {
		return nil, err
	}
	return &Validator{doc: doc, router: router, notFound: notFound, notAllow: notAllow}, nil
}

// LoadValidator is NewValidator for a document as served (its JSON), which it loads and
// validates first.
func LoadValidator(data []byte) (*Validator, error) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(data)
	if err == nil {
		err = doc.Validate(loader.Context)
	}
	if err != nil {
		return nil, fmt.Errorf("openapi: the served document: %w", err)
	}
	return NewValidator(doc)
}

// operation is an operation answering the document's responses named in answers, and status
// with the response named last.
func operation(doc *openapi3.T, answers map[int]string, status int, last string) (*openapi3.Operation, error) {
	op := openapi3.NewOperation()
	op.Responses = openapi3.NewResponses()
	all := map[int]string{status: last}
	for s, name := range answers {
		all[s] = name
	}
	for s, name := range all {
		ref := doc.Components.Responses[name]
		if ref == nil {
			return nil, fmt.Errorf("openapi: the document has no components.responses.%s", name)
		}
		op.Responses.Set(strconv.Itoa(s), ref)
	}
	return op, nil
}

// fromNetHTTP reports whether an answer is one Go's HTTP server wrote itself, before any
// handler ran: 431 for headers over http.max_header_bytes, 400 for a malformed request. They
// are plain text without the X-Request-ID every answer of the service carries; the document
// mentions 431 in its description, but no operation can answer it.
func fromNetHTTP(status int, header http.Header) bool {
	return (status == http.StatusRequestHeaderFieldsTooLarge || status == http.StatusBadRequest) &&
		header.Get("X-Request-ID") == "" && strings.HasPrefix(header.Get("Content-Type"), "text/plain")
}

// Check validates one answer to req. The error names the request, the status and what does
// not match.
func (v *Validator) Check(req *http.Request, status int, header http.Header, body []byte) error {
	if err := v.check(req, status, header, body); err != nil {
		return fmt.Errorf("openapi: %s %s answered %d, which the document does not allow: %w\n\tbody: %s",
			req.Method, req.URL.RequestURI(), status, err, snippet(body))
	}
	return nil
}

func (v *Validator) check(req *http.Request, status int, header http.Header, body []byte) error {
	if fromNetHTTP(status, header) {
		return nil
	}
	head := req.Method == http.MethodHead
	find := req
	if head { // answered like the GET
		find = req.Clone(req.Context())
		find.Method = http.MethodGet
	}
	route, params, err := v.router.FindRoute(find)
	switch {
	case errors.Is(err, routers.ErrPathNotFound):
		route = &routers.Route{Spec: v.doc, Path: req.URL.Path, Method: find.Method, Operation: v.notFound}
	case errors.Is(err, routers.ErrMethodNotAllowed):
		route = &routers.Route{Spec: v.doc, Path: req.URL.Path, Method: find.Method, Operation: v.notAllow}
	case err != nil:
		return err
	}
	documented := route.Operation.Responses.Status(status)
	if documented == nil || documented.Value == nil {
		return fmt.Errorf("status %d is not documented for %s %s", status, find.Method, route.Path)
	}
	if len(body) > 0 && (head || len(documented.Value.Content) == 0) {
		return errors.New("a body where the document says there is none")
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: find, PathParams: params, Route: route},
		Status:                 status,
		Header:                 header,
		Body:                   io.NopCloser(bytes.NewReader(body)),
		Options:                &openapi3filter.Options{IncludeResponseStatus: true, ExcludeResponseBody: head},
	}
	in.Options.WithCustomSchemaErrorFunc(func(e *openapi3.SchemaError) string {
		if ptr := e.JSONPointer(); len(ptr) > 0 {
			return fmt.Sprintf("at /%s: %s", strings.Join(ptr, "/"), e.Reason)
		}
		return e.Reason
	})
	if status == http.StatusNotModified { // openapi3filter skips 304: check its headers here
		return checkHeaders(documented.Value, header)
	}
	return openapi3filter.ValidateResponse(context.Background(), in)
}

// checkHeaders requires the headers a response documents as required.
func checkHeaders(r *openapi3.Response, header http.Header) error {
	for name, h := range r.Headers {
		if h.Value != nil && h.Value.Required && header.Get(name) == "" {
			return fmt.Errorf("response header %q missing", name)
		}
	}
	return nil
}

func snippet(body []byte) string {
	const max = 300
	if len(body) > max {
		return string(body[:max]) + "…"
	}
	return string(body)
}

// Transport wraps base (http.DefaultTransport when nil) so that every answer is read, checked
// and handed on unchanged; report gets each answer the document does not allow.
func (v *Validator) Transport(base http.RoundTripper, report func(*http.Request, error)) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	return &transport{base: base, v: v, report: report}
}

type transport struct {
	base   http.RoundTripper
	v      *Validator
	report func(*http.Request, error)
}

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	body, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if err != nil { // a cut connection: hand it on as it came, nothing to check
		resp.Body = io.NopCloser(io.MultiReader(bytes.NewReader(body), errReader{err}))
		return resp, nil
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	if verr := t.v.Check(req, resp.StatusCode, resp.Header, body); verr != nil {
		t.report(req, verr)
	}
	return resp, nil
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

// checker validates every answer a test server's clients receive, and keeps the failures
// for Close.
type checker struct {
	v      *Validator
	client *http.Client
	mu     sync.Mutex
	failed []error
}

// newChecker checks a's document against a's routes (a route without a documented
// operation, or the reverse, fails the server's start) and validates answers against it.
func newChecker(a *app.App) (*checker, error) {
	doc, err := a.OpenAPI()
	if err != nil {
		return nil, err
	}
	if err := a.CheckOpenAPI(doc); err != nil {
		return nil, err
	}
	v, err := NewValidator(doc)
	if err != nil {
		return nil, err
	}
	c := &checker{v: v}
	c.client = &http.Client{Transport: v.Transport(nil, c.report)}
	return c, nil
}

// violationKey carries, in a request's context, where Request wants its answer's failure.
type violationKey struct{}

func (c *checker) report(req *http.Request, err error) {
	c.mu.Lock()
	c.failed = append(c.failed, err)
	c.mu.Unlock()
	if slot, ok := req.Context().Value(violationKey{}).(*error); ok {
		*slot = err
	}
}

// failures is every failure seen, as one error (nil for none): Close returns it, so an answer
// the document does not allow fails the package even when a test dropped the error.
func (c *checker) failures() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.failed) == 0 {
		return nil
	}
	return fmt.Errorf("%d answers the OpenAPI document does not allow:\n%w", len(c.failed), errors.Join(c.failed...))
}

// Client is an HTTP client for tests that build their own requests (against s.URL): every
// answer it receives is validated against the app's OpenAPI document like Do's, and one the
// document does not allow fails t.
func (s *Server) Client(t testing.TB) *http.Client {
	return &http.Client{Transport: s.openapi.v.Transport(nil, func(req *http.Request, err error) {
		s.openapi.report(req, err)
		t.Error(err)
	})}
}
