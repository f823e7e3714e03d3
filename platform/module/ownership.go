package module

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"

	"gorm.io/gorm"

	"usersvc/platform/db"
)

// Ownership checks that each module's SQL names only its own tables, the views published by
// the modules it uses, and the platform's tables: a module's data is reached through its
// contract, never through its tables. Statements are attributed to a module by the tag its
// Runner puts on their context (db.ModuleOf); the platform's own statements are not checked.
// Tests register it on the app's pool and fail on any violation.
type Ownership struct {
	owner   map[string]string          // table or view → the module that owns it
	allowed map[string]map[string]bool // module → other modules' names it may use

	mu         sync.Mutex
	violations []string
}

// NewOwnership learns from mods who owns which table and view.
func NewOwnership(mods []Module) (*Ownership, error) {
	o := &Ownership{owner: map[string]string{}, allowed: map[string]map[string]bool{}}
	views := map[string][]string{}
	for _, m := range mods {
		tables, err := Tables(m)
		if err != nil {
			return nil, err
		}
		for _, t := range tables {
			o.owner[t] = m.Name()
		}
		for _, v := range m.Manifest().Views {
			o.owner[v] = m.Name()
			views[m.Name()] = append(views[m.Name()], v)
		}
	}
	for _, m := range mods {
		o.allowed[m.Name()] = map[string]bool{}
		for _, used := range m.Manifest().Uses {
			for _, v := range views[used] {
				o.allowed[m.Name()][v] = true
			}
		}
	}
	return o, nil
}

// Register checks every statement gdb runs from now on.
func (o *Ownership) Register(gdb *gorm.DB) error {
	cb := gdb.Callback()
	for name, register := range map[string]func(string, func(*gorm.DB)) error{
		"query":  func(n string, f func(*gorm.DB)) error { return cb.Query().After("gorm:query").Register(n, f) },
		"create": func(n string, f func(*gorm.DB)) error { return cb.Create().After("gorm:create").Register(n, f) },
		"update": func(n string, f func(*gorm.DB)) error { return cb.Update().After("gorm:update").Register(n, f) },
		"delete": func(n string, f func(*gorm.DB)) error { return cb.Delete().After("gorm:delete").Register(n, f) },
		"row":    func(n string, f func(*gorm.DB)) error { return cb.Row().After("gorm:row").Register(n, f) },
		"raw":    func(n string, f func(*gorm.DB)) error { return cb.Raw().After("gorm:raw").Register(n, f) },
	} {
		if err := register("module:ownership_"+name, o.record); err != nil {
			return err
		}
	}
	return nil
}

func (o *Ownership) record(tx *gorm.DB) {
	if tx.Statement.Context == nil {
		return
	}
	if v := o.Check(db.ModuleOf(tx.Statement.Context), tx.Statement.SQL.String()); v != "" {
		o.mu.Lock()
		o.violations = append(o.violations, v)
		o.mu.Unlock()
	}
}

// Check returns what is wrong with module running sql ("" if nothing): the first table or
// view of another module it names that the module may not use.
func (o *Ownership) Check(module, sql string) string {
	if module == "" {
		return ""
	}
	for _, name := range TablesIn(sql) {
		if owner, ok := o.owner[name]; ok && owner != module && !o.allowed[module][name] {
			return fmt.Sprintf("module %s names %s, which belongs to module %s: %.200s", module, name, owner, sql)
		}
	}
	return ""
}

// Violations lists every statement that broke the rule so far.
func (o *Ownership) Violations() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Clone(o.violations)
}

// relation matches a table or view name where SQL names one: after FROM, JOIN, INTO, UPDATE,
// TABLE or USING, quoted or not; a name followed by "(" is a function and is skipped.
var relation = regexp.MustCompile(`(?i)\b(?:from|join|into|update|table|using)\s+"?([a-z_][a-z0-9_]*)"?(\s*\()?`)

// TablesIn lists the relations sql names.
func TablesIn(sql string) []string {
	var out []string
	for _, m := range relation.FindAllStringSubmatch(sql, -1) {
		if m[2] == "" {
			out = append(out, strings.ToLower(m[1]))
		}
	}
	return out
}
