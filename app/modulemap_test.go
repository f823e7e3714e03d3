package app

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

// docs/modules.md is the module map as the code draws it: when a module changes its routes,
// tables, contract or events, the committed file must change with it (`make docs`).
func TestModuleMapIsCurrent(t *testing.T) {
	committed, err := os.ReadFile("../docs/modules.md")
	if err != nil {
		t.Fatalf("read docs/modules.md: %v (generate it with `make docs`)", err)
	}
	if err := checkModuleMap(string(committed), Modules(Deps{})); err != nil {
		t.Error(err)
	}
}

// The check fails on stale fixtures: a map missing a route, and a map of fewer modules.
func TestModuleMapCheckCatchesStaleMaps(t *testing.T) {
	mods := Modules(Deps{})
	current := ModuleMap(mods)
	stale := strings.Replace(current, "  - `PUT /teams/:id/members/:user_id`\n", "", 1)
	if stale == current {
		t.Fatal("fixture: the map lists no PUT /teams/:id/members/:user_id")
	}
	for name, fixture := range map[string]string{"a route missing": stale, "a module missing": ModuleMap(mods[:1])} {
		if checkModuleMap(fixture, mods) == nil {
			t.Errorf("%s: the check passed a stale map", name)
		}
	}
	if err := checkModuleMap(current, mods); err != nil {
		t.Errorf("the current map: %v", err)
	}
}

// checkModuleMap compares a committed module map with the one the modules draw.
func checkModuleMap(committed string, mods []Module) error {
	want := ModuleMap(mods)
	if want == committed {
		return nil
	}
	a, b := strings.Split(want, "\n"), strings.Split(committed, "\n")
	line := min(len(a), len(b)) + 1
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			line = i + 1
			break
		}
	}
	return fmt.Errorf("docs/modules.md is stale: run `make docs` and commit the result; the first difference is at line %d", line)
}
