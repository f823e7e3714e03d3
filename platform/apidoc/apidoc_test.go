package apidoc_test

import (
	"strings"
	"testing"

	"usersvc/platform/apidoc"
)

// A fragment like a module's: a path with a parameter and a body, its own schema, and
// references to the platform's components.
const widgets = `
paths:
  /widgets/{id}:
    parameters:
      - $ref: '#/components/parameters/Id'
    get:
      operationId: getWidget
      responses:
        '200':
          description: The widget.
          headers:
            ETag: {$ref: '#/components/headers/ETag'}
          content:
            application/json:
              schema: {$ref: '#/components/schemas/Widget'}
        '404':
          $ref: '#/components/responses/NotFound'
    patch:
      operationId: updateWidget
      requestBody:
        content:
          application/json:
            schema: {$ref: '#/components/schemas/Widget'}
      responses:
        '200':
          description: Updated.
tags:
  - name: widgets
components:
  schemas:
    Widget:
      type: object
      properties:
        id: {$ref: '#/components/schemas/UUID'}
`

// gadgets is another module's fragment, with nothing in common with widgets.
const gadgets = `
paths:
  /gadgets:
    get:
      operationId: listGadgets
      responses:
        '200':
          description: The gadgets.
          content:
            application/json:
              schema: {$ref: '#/components/schemas/Gadget'}
components:
  schemas:
    Gadget: {type: object}
`

func build(t *testing.T, opts apidoc.Options, parts ...apidoc.Part) error {
	t.Helper()
	_, err := apidoc.Build(opts, parts...)
	return err
}

// The merged document passes openapi3's validation (Build runs it) and has each part where
// it belongs: module paths under the prefix, their components beside the platform's, and the
// platform's answers on every module operation.
func TestBuildMergesTheModulesIntoOneValidDocument(t *testing.T) {
	doc, err := apidoc.Build(apidoc.Options{Prefix: "/api/v1"},
		apidoc.Part{Module: "widgets", Fragment: []byte(widgets)},
		apidoc.Part{Module: "gadgets", Fragment: []byte(gadgets)},
		apidoc.Part{Module: "silent"}) // a module that serves nothing
	if err != nil {
		t.Fatal(err)
	}
	if !doc.IsOpenAPI31OrLater() {
		t.Errorf("openapi %q; want 3.1", doc.OpenAPI)
	}
	for _, p := range []string{"/api/v1/widgets/{id}", "/api/v1/gadgets", "/healthz", "/readyz", "/metrics", apidoc.Path} {
		if doc.Paths.Value(p) == nil {
			t.Errorf("path %s is missing", p)
		}
	}
	for _, s := range []string{"Widget", "Gadget", "Problem", "AuditEntry"} {
		if doc.Components.Schemas[s] == nil {
			t.Errorf("schema %s is missing", s)
		}
	}
	get := doc.Paths.Value("/api/v1/widgets/{id}").Get
	for _, status := range []int{200, 404, 400, 401, 429, 503} {
		if get.Responses.Status(status) == nil {
			t.Errorf("GET /widgets/{id} lacks %d", status)
		}
	}
	for _, status := range []int{413, 415} {
		if get.Responses.Status(status) != nil {
			t.Errorf("GET /widgets/{id} has %d, but takes no body", status)
		}
		if doc.Paths.Value("/api/v1/widgets/{id}").Patch.Responses.Status(status) == nil {
			t.Errorf("PATCH /widgets/{id} lacks %d", status)
		}
	}
	if d := get.Responses.Status(404).Value.Description; d == nil || !strings.Contains(*d, "No such resource") {
		t.Errorf("the module's own 404 was replaced: %v", d)
	}
	if tags := get.Tags; len(tags) != 1 || tags[0] != "widgets" {
		t.Errorf("tags %v; want the module's name", tags)
	}
	if doc.Paths.Value(apidoc.Path).Get.Responses.Status(401) != nil {
		t.Error("the document itself is public, yet documents a 401")
	}
}

func TestBuildOmitsPlatformPathsTheAppDoesNotServe(t *testing.T) {
	doc, err := apidoc.Build(apidoc.Options{Prefix: "/api/v1", Omit: []string{"/metrics"}})
	if err != nil {
		t.Fatal(err)
	}
	if doc.Paths.Value("/metrics") != nil {
		t.Error("/metrics is still documented")
	}
}

// Two parts defining the same path, schema (the platform's included) or tag is an error
// naming both, never a silent overwrite; every collision is listed.
func TestBuildRefusesTwoDefinitionsOfOneThing(t *testing.T) {
	again := strings.Replace(gadgets, "operationId: listGadgets", "operationId: listGadgetsAgain", 1)
	err := build(t, apidoc.Options{Prefix: "/api/v1"},
		apidoc.Part{Module: "gadgets", Fragment: []byte(gadgets)},
		apidoc.Part{Module: "gizmos", Fragment: []byte(again)})
	for _, want := range []string{
		"path /api/v1/gadgets is defined by both gadgets and gizmos",
		"schemas Gadget is defined by both gadgets and gizmos",
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v; want it to say %q", err, want)
		}
	}

	shadow := "components:\n  schemas:\n    Problem: {type: string}\n  responses:\n    NotFound: {description: mine}\ntags:\n  - name: platform\n"
	err = build(t, apidoc.Options{Prefix: "/api/v1"}, apidoc.Part{Module: "rogue", Fragment: []byte(shadow)})
	for _, want := range []string{
		"schemas Problem is defined by both platform and rogue",
		"responses NotFound is defined by both platform and rogue",
		"tag platform is defined by both platform and rogue",
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v; want it to say %q", err, want)
		}
	}

	health := "paths:\n  /healthz:\n    get:\n      responses:\n        '200': {description: mine}\n"
	err = build(t, apidoc.Options{}, apidoc.Part{Module: "rogue", Fragment: []byte(health)})
	if err == nil || !strings.Contains(err.Error(), "path /healthz is defined by both platform and rogue") {
		t.Errorf("error %v; want the platform's /healthz defended", err)
	}
}

// A fragment may not change the document's info, security, servers or version.
func TestBuildRefusesOtherTopLevelKeys(t *testing.T) {
	err := build(t, apidoc.Options{}, apidoc.Part{Module: "rogue", Fragment: []byte("info: {title: mine, version: '2'}\nsecurity: []\n")})
	for _, key := range []string{`"info"`, `"security"`} {
		if err == nil || !strings.Contains(err.Error(), "rogue: a module's fragment may hold paths, components and tags only, not "+key) {
			t.Errorf("error %v; want %s refused", err, key)
		}
	}
}

// What openapi3 finds wrong in the merged document fails the build: a reference to a schema
// nobody defines, an operation id used twice, a path parameter left undeclared, bad YAML.
func TestBuildRefusesAnInvalidDocument(t *testing.T) {
	for name, frag := range map[string]string{
		"unresolved $ref":           strings.Replace(gadgets, "schemas/Gadget'", "schemas/Nobody'", 1),
		"duplicate operationId":     strings.Replace(widgets, "operationId: updateWidget", "operationId: getWidget", 1),
		"undeclared path parameter": strings.Replace(gadgets, "/gadgets:", "/gadgets/{id}:", 1),
		"not YAML":                  "paths: [",
		"not a mapping":             "- a list",
	} {
		t.Run(name, func(t *testing.T) {
			if err := build(t, apidoc.Options{Prefix: "/api/v1"}, apidoc.Part{Module: "m", Fragment: []byte(frag)}); err == nil {
				t.Error("built")
			} else {
				t.Log(err)
			}
		})
	}
}

// CheckRoutes holds the document to the app's routes both ways; HEAD routes count as the
// GET's, and Echo's own entries are ignored.
func TestCheckRoutes(t *testing.T) {
	doc, err := apidoc.Build(apidoc.Options{Prefix: "/api/v1", Omit: []string{"/metrics"}},
		apidoc.Part{Module: "gadgets", Fragment: []byte(gadgets)})
	if err != nil {
		t.Fatal(err)
	}
	served := []apidoc.Route{
		{Method: "GET", Path: "/healthz"}, {Method: "HEAD", Path: "/healthz"},
		{Method: "GET", Path: "/readyz"}, {Method: "HEAD", Path: "/readyz"},
		{Method: "GET", Path: apidoc.Path}, {Method: "HEAD", Path: apidoc.Path},
		{Method: "GET", Path: "/api/v1/gadgets"},
		{Method: "echo_route_not_found", Path: "/*"},
	}
	if err := apidoc.CheckRoutes(doc, served); err != nil {
		t.Errorf("matching routes: %v", err)
	}

	err = apidoc.CheckRoutes(doc, append(served[:len(served)-2:len(served)-2],
		apidoc.Route{Method: "POST", Path: "/api/v1/gadgets/:id"}, apidoc.Route{Method: "HEAD", Path: "/api/v1/gizmos"}))
	for _, want := range []string{
		"POST /api/v1/gadgets/{id} is served but not documented",
		"HEAD /api/v1/gizmos is served but not documented",
		"GET /api/v1/gadgets is documented but not served",
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v; want it to say %q", err, want)
		}
	}
}
