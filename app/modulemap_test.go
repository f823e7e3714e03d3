package app

import (
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
	if got := ModuleMap(Modules(Deps{})); got != string(committed) {
		t.Errorf("docs/modules.md is stale: run `make docs` and commit the result; the first difference is at line %d",
			firstDifference(got, string(committed)))
	}
}

// A map drawn from a changed module differs from the committed file: the check can fail.
func TestModuleMapChangesWithTheModules(t *testing.T) {
	mods := Modules(Deps{})
	if ModuleMap(mods[:1]) == ModuleMap(mods) {
		t.Fatal("dropping a module did not change the map")
	}
}

func firstDifference(a, b string) int {
	la, lb := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := range min(len(la), len(lb)) {
		if la[i] != lb[i] {
			return i + 1
		}
	}
	return min(len(la), len(lb)) + 1
}
