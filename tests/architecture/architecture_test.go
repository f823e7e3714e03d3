package architecture

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"usersvc/app"
)

// The tree keeps every rule. A failure names the rule and the offending import.
func TestTheTreeKeepsTheHouseRules(t *testing.T) {
	gomod, err := exec.Command("go", "env", "GOMOD").Output()
	require.NoError(t, err)
	pkgs, err := List(filepath.Dir(strings.TrimSpace(string(gomod))))
	require.NoError(t, err)
	require.Greater(t, len(pkgs), 20, "go list saw the tree")
	var mods []Module
	for _, m := range app.Modules(app.Deps{}) {
		man := m.Manifest()
		mods = append(mods, Module{Name: m.Name(), Contract: man.Contract, Uses: man.Uses})
	}
	for _, v := range Check("usersvc", pkgs, mods) {
		t.Errorf("%s", v)
	}
}

// Each rule fails on a fixture tree built to break it (testdata/violations, a Go module of
// its own: `./...` of the service does not see it).
func TestEveryRuleCatchesItsViolation(t *testing.T) {
	pkgs, err := List("testdata/violations")
	require.NoError(t, err)
	mods := []Module{
		{Name: "a", Contract: "fixture/modules/a/aapi", Uses: []string{"b"}},
		{Name: "b"},
		{Name: "c"},
	}
	var got []string
	for _, v := range Check("fixture", pkgs, mods) {
		got = append(got, v.String())
	}
	assert.Equal(t, []string{
		"contracts-only: fixture/modules/a imports fixture/modules/b",
		"contracts-stand-alone: fixture/modules/a/aapi imports fixture/modules/b",
		"declared-uses: fixture/modules/c imports fixture/modules/a/aapi",
		"migrations-frozen: fixture/migrations/m imports fixture/modules/b",
		"modules-below-app: fixture/modules/c imports fixture/app",
		"platform-below-modules: fixture/platform/p imports fixture/modules/a",
	}, got)
}
