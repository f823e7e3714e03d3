// Package architecture holds the house rules on imports — which package may use which — and
// checks them on the import graph `go list` reports, the way Shopify's Packwerk checks
// declared dependencies and privacy in CI. The rules, by name:
//
//   - platform-below-modules: platform/… imports no module and not app/.
//   - modules-below-app: modules/… imports neither app/ nor cmd/.
//   - migrations-frozen: migrations/… imports no module and not app/ (a migration freezes the
//     SQL of its day instead of using today's models).
//   - contracts-only: a module imports another module only through that module's published
//     contract package (its manifest's Contract), never its internals.
//   - declared-uses: and only a module it declares in its manifest's Uses.
//   - contracts-stand-alone: a contract package imports no module's internals (not even its
//     own module's), only other contracts, the platform and libraries.
package architecture

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"slices"
	"sort"
	"strings"
)

// Package is one Go package of the tree and what it imports, tests included.
type Package struct {
	ImportPath                         string
	Imports, TestImports, XTestImports []string
}

// Module is what the rules know of a feature module: its name (its directory under
// modules/), the import path of its contract package, and the modules it declares it uses.
type Module struct {
	Name, Contract string
	Uses           []string
}

// Violation is one import that breaks a rule.
type Violation struct{ Rule, Package, Import string }

func (v Violation) String() string {
	return fmt.Sprintf("%s: %s imports %s", v.Rule, v.Package, v.Import)
}

// List runs `go list -json ./...` in dir and returns its packages.
func List(dir string) ([]Package, error) {
	cmd := exec.Command("go", "list", "-json", "./...")
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go list in %s: %w: %s", dir, err, stderr.String())
	}
	var pkgs []Package
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p Package
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			return pkgs, nil
		} else if err != nil {
			return nil, fmt.Errorf("go list output: %w", err)
		}
		pkgs = append(pkgs, p)
	}
}

// Check applies the rules to pkgs of the Go module root ("usersvc") with its feature
// modules mods, and returns every violation, sorted.
func Check(root string, pkgs []Package, mods []Module) []Violation {
	byName := map[string]Module{}
	for _, m := range mods {
		byName[m.Name] = m
	}
	var out []Violation
	for _, p := range pkgs {
		rel, ok := strings.CutPrefix(p.ImportPath, root+"/")
		if !ok {
			continue
		}
		for _, imp := range slices.Concat(p.Imports, p.TestImports, p.XTestImports) {
			target, ok := strings.CutPrefix(imp, root+"/")
			if !ok {
				continue
			}
			if rule := broken(rel, target, root, byName); rule != "" {
				out = append(out, Violation{rule, p.ImportPath, imp})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return slices.Compact(out)
}

// broken names the rule the import of target by rel breaks ("" for none); both are paths
// below the Go module's root.
func broken(rel, target, root string, mods map[string]Module) string {
	into := func(p, dir string) bool { return p == dir || strings.HasPrefix(p, dir+"/") }
	from, to := moduleOf(rel), moduleOf(target)
	switch {
	case into(rel, "platform") && (to != "" || into(target, "app")):
		return "platform-below-modules"
	case into(rel, "migrations") && (to != "" || into(target, "app")):
		return "migrations-frozen"
	case from != "" && (into(target, "app") || into(target, "cmd")):
		return "modules-below-app"
	case from == "" || to == "":
		return ""
	}
	fromContract := isContract(rel, root, mods[from])
	switch {
	case fromContract && !isContract(target, root, mods[to]):
		return "contracts-stand-alone"
	case to == from:
		return ""
	case !isContract(target, root, mods[to]):
		return "contracts-only"
	case !fromContract && !slices.Contains(mods[from].Uses, to):
		return "declared-uses"
	}
	return ""
}

// moduleOf is the module a path below the root belongs to ("" outside modules/).
func moduleOf(rel string) string {
	rest, ok := strings.CutPrefix(rel, "modules/")
	if !ok {
		return ""
	}
	name, _, _ := strings.Cut(rest, "/")
	return name
}

// isContract reports whether rel is m's contract package (or below it).
func isContract(rel, root string, m Module) bool {
	c, ok := strings.CutPrefix(m.Contract, root+"/")
	return ok && m.Contract != "" && (rel == c || strings.HasPrefix(rel, c+"/"))
}
