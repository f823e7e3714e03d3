// Package apidoc builds the service's OpenAPI 3.1 document from parts: the platform's own
// (platform.yaml: the shared schemas, parameters, headers and problem+json error responses,
// and the routes outside the modules) and one fragment per module, which brings its paths and
// schemas. Build merges them, refusing two parts that define the same path or component, and
// validates the result; CheckRoutes holds it to the routes the app really serves.
package apidoc

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"go.yaml.in/yaml/v3"
)

// Path is where the app serves the document.
const Path = "/api/v1/openapi.json"

//go:embed platform.yaml
var platform []byte

// Part is one module's contribution: a YAML (or JSON) fragment holding `paths` (relative to
// Options.Prefix, like the module's routes), `components` (its schemas, parameters, …) and
// optionally `tags`, and nothing else. Its operations may $ref the platform's components.
type Part struct {
	Module   string
	Fragment []byte
}

// Options shape the document.
type Options struct {
	// Prefix is where the module paths are mounted: "/api/v1".
	Prefix string
	// Omit names platform paths the app does not serve in this configuration (/metrics when
	// it has a listener of its own).
	Omit []string
}

// Every module operation may get these answers from the platform's middleware (auth, rate
// limit, query and header checks, database availability), so Build adds them where the module
// did not document them itself; operations with a body may also get the body's.
var (
	platformAnswers = map[string]string{"400": "BadRequest", "401": "Unauthorized", "429": "TooManyRequests", "503": "Unavailable"}
	bodyAnswers     = map[string]string{"413": "ContentTooLarge", "415": "UnsupportedMediaType"}
)

// methods are the operation keys of a path item.
var methods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

// Build merges the platform's part and parts into one document, loads and validates it.
// Errors name every path, component or tag two parts both define, a fragment with other
// top-level keys, and what openapi3's validation finds.
func Build(opts Options, parts ...Part) (*openapi3.T, error) {
	doc, err := decode("platform", platform)
	if err != nil {
		return nil, err
	}
	paths := section(doc, "paths")
	for _, p := range opts.Omit {
		delete(paths, p)
	}
	m := merger{doc: doc, owners: map[string]string{}}
	for p := range paths {
		m.owners["path "+p] = "platform"
	}
	m.own("platform", doc)
	for _, part := range parts {
		if len(bytes.TrimSpace(part.Fragment)) == 0 {
			continue
		}
		frag, err := decode(part.Module, part.Fragment)
		if err != nil {
			m.errs = append(m.errs, err)
			continue
		}
		m.add(part.Module, opts.Prefix, frag)
	}
	if len(m.errs) > 0 {
		return nil, errors.Join(m.errs...)
	}
	return load(doc)
}

// load turns the merged tree into a document and validates it.
func load(tree map[string]any) (*openapi3.T, error) {
	data, err := json.Marshal(tree)
	if err != nil {
		return nil, fmt.Errorf("apidoc: %w", err)
	}
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(data)
	if err != nil {
		return nil, fmt.Errorf("apidoc: load the merged document: %w", err)
	}
	if err := doc.Validate(loader.Context); err != nil {
		return nil, fmt.Errorf("apidoc: the merged document is invalid: %w", err)
	}
	return doc, nil
}

// merger adds parts to doc, remembering which part defined each path, component and tag.
type merger struct {
	doc    map[string]any
	owners map[string]string // "path /x", "schemas User", "tag users" → its part
	errs   []error
}

// own records the components and tags of part (already in doc) as its own.
func (m *merger) own(part string, tree map[string]any) {
	for kind, defs := range section(tree, "components") {
		for name := range asMap(defs) {
			m.owners[kind+" "+name] = part
		}
	}
	for _, t := range list(tree, "tags") {
		m.owners["tag "+fmt.Sprint(asMap(t)["name"])] = part
	}
}

func (m *merger) add(module, prefix string, frag map[string]any) {
	for _, key := range sortedKeys(frag) {
		if key != "paths" && key != "components" && key != "tags" {
			m.errs = append(m.errs, fmt.Errorf("apidoc: %s: a module's fragment may hold paths, components and tags only, not %q", module, key))
		}
	}
	paths := section(m.doc, "paths")
	for _, p := range sortedKeys(section(frag, "paths")) {
		full := prefix + p
		if m.claim(module, "path "+full) {
			item := asMap(section(frag, "paths")[p])
			complete(module, item)
			paths[full] = item
		}
	}
	components := section(m.doc, "components")
	for _, kind := range sortedKeys(section(frag, "components")) {
		defs := asMap(section(frag, "components")[kind])
		into := asMap(components[kind])
		if into == nil {
			into = map[string]any{}
			components[kind] = into
		}
		for _, name := range sortedKeys(defs) {
			if m.claim(module, kind+" "+name) {
				into[name] = defs[name]
			}
		}
	}
	for _, t := range list(frag, "tags") {
		if m.claim(module, "tag "+fmt.Sprint(asMap(t)["name"])) {
			m.doc["tags"] = append(list(m.doc, "tags"), t)
		}
	}
}

// claim records what as module's, or an error when another part defined it first.
func (m *merger) claim(module, what string) bool {
	if owner, ok := m.owners[what]; ok {
		m.errs = append(m.errs, fmt.Errorf("apidoc: %s is defined by both %s and %s", what, owner, module))
		return false
	}
	m.owners[what] = module
	return true
}

// complete gives each operation of a module's path item the module's name as tag (unless it
// has tags) and the platform's answers it did not document itself.
func complete(module string, item map[string]any) {
	for _, method := range methods {
		op := asMap(item[method])
		if op == nil {
			continue
		}
		if _, ok := op["tags"]; !ok {
			op["tags"] = []any{module}
		}
		responses := asMap(op["responses"])
		if responses == nil {
			continue // openapi3's validation says what is missing
		}
		addAnswers(responses, platformAnswers)
		if _, ok := op["requestBody"]; ok {
			addAnswers(responses, bodyAnswers)
		}
		if security, ok := op["security"].([]any); ok && len(security) == 0 {
			delete(responses, "401") // a public operation (never added by a module yet)
		}
	}
}

func addAnswers(responses map[string]any, answers map[string]string) {
	for status, name := range answers {
		if _, ok := responses[status]; !ok {
			responses[status] = map[string]any{"$ref": "#/components/responses/" + name}
		}
	}
}

// decode parses a YAML or JSON document into maps with string keys.
func decode(part string, data []byte) (map[string]any, error) {
	var tree any
	if err := yaml.Unmarshal(data, &tree); err != nil {
		return nil, fmt.Errorf("apidoc: %s: %w", part, err)
	}
	tree, err := stringKeys(tree)
	if err != nil {
		return nil, fmt.Errorf("apidoc: %s: %w", part, err)
	}
	m, ok := tree.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("apidoc: %s: the document is not a mapping", part)
	}
	return m, nil
}

// stringKeys converts YAML mappings to map[string]any (response codes like 200 written
// without quotes are integers to YAML), so the tree marshals as JSON.
func stringKeys(v any) (any, error) {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			c, err := stringKeys(e)
			if err != nil {
				return nil, err
			}
			v[k] = c
		}
		return v, nil
	case map[any]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			c, err := stringKeys(e)
			if err != nil {
				return nil, err
			}
			out[fmt.Sprint(k)] = c
		}
		return out, nil
	case []any:
		for i, e := range v {
			c, err := stringKeys(e)
			if err != nil {
				return nil, err
			}
			v[i] = c
		}
		return v, nil
	default:
		return v, nil
	}
}

// section returns tree[key] as a mapping, creating it when absent.
func section(tree map[string]any, key string) map[string]any {
	m := asMap(tree[key])
	if m == nil {
		m = map[string]any{}
		tree[key] = m
	}
	return m
}

func asMap(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

func list(tree map[string]any, key string) []any {
	l, _ := tree[key].([]any)
	return l
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Route is one route the app serves: a method and an Echo path ("/api/v1/users/:id").
type Route struct{ Method, Path string }

// CheckRoutes holds doc to the routes the app serves: every route must have a documented
// operation (a HEAD route: a documented GET, which HEAD answers like), and every documented
// operation must be served. The error lists each mismatch.
func CheckRoutes(doc *openapi3.T, routes []Route) error {
	served := map[string]bool{}
	var errs []string
	for _, r := range routes {
		if strings.HasPrefix(r.Method, "echo_") {
			continue // Echo's own entries (RouteNotFound handlers)
		}
		method := strings.ToUpper(r.Method)
		path := openAPIPath(r.Path)
		served[method+" "+path] = true
		item := doc.Paths.Value(path)
		if method == "HEAD" {
			method = "GET"
		}
		if item == nil || !slices.Contains(methods, strings.ToLower(method)) || item.GetOperation(method) == nil {
			errs = append(errs, fmt.Sprintf("%s %s is served but not documented", r.Method, path))
		}
	}
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			if !served[method+" "+path] {
				errs = append(errs, fmt.Sprintf("%s %s is documented but not served", method, path))
			}
		}
	}
	if len(errs) == 0 {
		return nil
	}
	sort.Strings(errs)
	return fmt.Errorf("apidoc: the document and the routes differ:\n  %s", strings.Join(errs, "\n  "))
}

// openAPIPath turns Echo's path parameters (":id") into OpenAPI's ("{id}").
func openAPIPath(echoPath string) string {
	segments := strings.Split(echoPath, "/")
	for i, s := range segments {
		if name, ok := strings.CutPrefix(s, ":"); ok {
			segments[i] = "{" + name + "}"
		}
	}
	return strings.Join(segments, "/")
}
