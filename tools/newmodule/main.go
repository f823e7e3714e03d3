// Command newmodule generates a feature module that compiles, is registered and is tested:
// model and audit table, a first migration, store, handlers (CRUD, soft delete and restore,
// keyset list with name prefix search, audit trail), its part of the OpenAPI document, and its
// integration tests (which validate every answer against that document). `make module
// NAME=widgets` runs it, then regenerates docs/modules.md.
package main

import (
	"bytes"
	"embed"
	"errors"
	"flag"
	"fmt"
	"go/format"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"text/template"
	"time"
)

//go:embed templates/*.tmpl
var templates embed.FS

// module is what the templates are filled with.
type module struct {
	Name     string // package, table and URL segment: "widgets"
	Singular string // "widget": the audit table and column, messages
	Type     string // "Widget": the model's Go type
	Plural   string // "Widgets": in the OpenAPI operation ids (listWidgets)
	ID       string // the first migration's timestamp, YYYYMMDDhhmm (UTC)
}

// files maps each template to the file it becomes.
var files = map[string]string{
	"module.go.tmpl":           "modules/{{name}}/module.go",
	"openapi.yaml.tmpl":        "modules/{{name}}/openapi.yaml",
	"model.go.tmpl":            "modules/{{name}}/model.go",
	"store.go.tmpl":            "modules/{{name}}/store.go",
	"handlers.go.tmpl":         "modules/{{name}}/handlers.go",
	"migrations.go.tmpl":       "migrations/{{name}}/{{name}}.go",
	"migration_create.go.tmpl": "migrations/{{name}}/{{id}}_create_{{name}}.go",
	"main_test.go.tmpl":        "tests/integration/{{name}}/main_test.go",
	"api_test.go.tmpl":         "tests/integration/{{name}}/{{name}}_test.go",
}

var namePattern = regexp.MustCompile(`^[a-z][a-z0-9]{1,30}$`)

// registration is the marker in app/modules.go above which new modules are registered.
const registration = "// `make module NAME=…` adds new modules above this line."

func main() {
	name := flag.String("name", "", "the module's name: plural, lowercase letters and digits (e.g. widgets)")
	singular := flag.String("singular", "", "its singular (default: the name without its final s)")
	root := flag.String("root", ".", "the repository's root")
	flag.Parse()
	if err := generate(*root, *name, *singular, time.Now().UTC()); err != nil {
		fmt.Fprintln(os.Stderr, "newmodule:", err)
		os.Exit(1)
	}
}

func generate(root, name, singular string, now time.Time) error {
	if singular == "" {
		singular = strings.TrimSuffix(name, "s")
	}
	switch {
	case !namePattern.MatchString(name):
		return fmt.Errorf("NAME %q must be 2 to 31 lowercase letters and digits, starting with a letter", name)
	case !namePattern.MatchString(singular) || singular == name:
		return fmt.Errorf("the singular of %q (%q) must differ from it and be lowercase letters and digits; "+
			"give SINGULAR=…", name, singular)
	}
	m := module{Name: name, Singular: singular, Type: strings.ToUpper(singular[:1]) + singular[1:],
		Plural: strings.ToUpper(name[:1]) + name[1:], ID: now.Format("200601021504")}
	if _, err := os.Stat(filepath.Join(root, "modules", name)); err == nil {
		return fmt.Errorf("modules/%s exists already", name)
	}
	for tmpl, path := range files {
		path = strings.NewReplacer("{{name}}", m.Name, "{{id}}", m.ID).Replace(path)
		if err := render(filepath.Join(root, path), tmpl, m); err != nil {
			return err
		}
		fmt.Println("created", path)
	}
	if err := register(filepath.Join(root, "app", "modules.go"), m); err != nil {
		return err
	}
	fmt.Println("registered", m.Name, "in app/modules.go")
	return nil
}

func render(path, tmpl string, m module) error {
	t, err := template.New(tmpl).Delims("«", "»").ParseFS(templates, "templates/"+tmpl)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, m); err != nil {
		return err
	}
	src := buf.Bytes()
	if strings.HasSuffix(path, ".go") {
		var err error
		if src, err = format.Source(src); err != nil {
			return fmt.Errorf("%s: generated code does not parse: %w", path, err)
		}
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, src, 0o644)
}

// register adds the module to app.Modules, above the marker, and imports it.
func register(path string, m module) error {
	src, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	s := string(src)
	line := fmt.Sprintf("%s.New(%s.Deps{DB: d.ForModule(%q), Cursors: d.Cursors, Idempotent: d.Idempotent}),\n\t\t",
		m.Name, m.Name, m.Name)
	if !strings.Contains(s, registration) {
		return errors.New("app/modules.go has lost its registration marker; add the module by hand")
	}
	s = strings.Replace(s, registration, line+registration, 1)
	s = strings.Replace(s, "\n\t\"usersvc/", fmt.Sprintf("\n\t%q\n\t\"usersvc/", "usersvc/modules/"+m.Name), 1)
	out, err := format.Source([]byte(s))
	if err != nil {
		return fmt.Errorf("app/modules.go: %w", err)
	}
	return os.WriteFile(path, out, 0o644)
}
