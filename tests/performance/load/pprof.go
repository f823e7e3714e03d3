package load

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/google/pprof/profile"

	"usersvc/tests/performance/perfkit"
)

// profileTop is how many functions a profile's table lists; packageTop how many packages
// of each profile the package table lists.
const (
	profileTop = 20
	packageTop = 12
)

// fetchCPUProfile asks the server's profiler (server.metrics, with profiled settings) for a
// CPU profile of the next seconds and returns it as served (gzipped protobuf).
func fetchCPUProfile(ctx context.Context, client *http.Client, metricsBase string, seconds int) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("%s/debug/pprof/profile?seconds=%d", metricsBase, seconds), nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("load: CPU profile: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("load: CPU profile: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("load: CPU profile: %s: %s", resp.Status, bytes.TrimSpace(body))
	}
	return body, nil
}

// profiledRun runs run while the server's profiler records the CPU for seconds, saves the
// profile as name in the run folder (when there is one) and returns it parsed.
func profiledRun(ctx context.Context, r *rig, env *perfkit.Env, name string, seconds int, run func() error) (*cpuProfile, error) {
	type fetched struct {
		data []byte
		err  error
	}
	done := make(chan fetched, 1)
	go func() {
		data, err := fetchCPUProfile(ctx, r.client, r.srv.metrics, seconds)
		done <- fetched{data, err}
	}()
	runErr := run()
	f := <-done
	if err := errors.Join(runErr, f.err); err != nil {
		return nil, err
	}
	if env.OutDir != "" {
		if err := os.WriteFile(filepath.Join(env.OutDir, name), f.data, 0o644); err != nil {
			return nil, err
		}
	}
	p, err := parseCPUProfile(f.data)
	if err != nil {
		return nil, fmt.Errorf("load: %s: %w", name, err)
	}
	return p, nil
}

// cpuProfile is what a report needs of a CPU profile: CPU time by function.
type cpuProfile struct {
	total    time.Duration // CPU time in all samples
	duration time.Duration // wall time the profile covers
	samples  int           // the profiler's ticks (stacks seen several times count several times)
	funcs    []funcCost    // every function seen, most flat CPU first
}

// funcCost is one function's CPU time: flat in itself, cum in itself and what it called.
type funcCost struct {
	name      string
	flat, cum time.Duration
}

// parseCPUProfile reads a Go CPU profile (profile.proto, gzipped or not). Per function, like
// `go tool pprof -top`: flat is the samples whose innermost frame (an inlined one included) is
// the function, cum the samples with the function anywhere in the stack, each sample counted
// once.
func parseCPUProfile(data []byte) (*cpuProfile, error) {
	prof, err := profile.ParseData(data)
	if err != nil {
		return nil, fmt.Errorf("unreadable profile: %w", err)
	}
	if len(prof.SampleType) == 0 {
		return nil, errors.New("the profile has no sample types")
	}
	value, count := len(prof.SampleType)-1, -1 // Go's CPU profiles: samples/count, cpu/nanoseconds
	for i, t := range prof.SampleType {
		switch t.Type {
		case "cpu":
			value = i
		case "samples":
			count = i
		}
	}
	p := &cpuProfile{duration: time.Duration(prof.DurationNanos)}
	byName := map[string]*funcCost{}
	cost := func(name string) *funcCost {
		c, ok := byName[name]
		if !ok {
			c = &funcCost{name: name}
			byName[name] = c
		}
		return c
	}
	for _, s := range prof.Sample {
		if value >= len(s.Value) {
			continue
		}
		v := time.Duration(s.Value[value])
		p.total += v
		if count >= 0 && count < len(s.Value) {
			p.samples += int(s.Value[count])
		} else {
			p.samples++
		}
		seen := map[string]bool{}
		for i, loc := range s.Location {
			for j, line := range loc.Line {
				name := "?"
				if line.Function != nil {
					name = line.Function.Name
				}
				if i == 0 && j == 0 {
					cost(name).flat += v
				}
				if !seen[name] {
					seen[name] = true
					cost(name).cum += v
				}
			}
		}
	}
	for _, c := range byName {
		p.funcs = append(p.funcs, *c)
	}
	slices.SortFunc(p.funcs, func(a, b funcCost) int {
		return cmp.Or(cmp.Compare(b.flat, a.flat), cmp.Compare(b.cum, a.cum), cmp.Compare(a.name, b.name))
	})
	return p, nil
}

// profileTable is the top functions of p by flat CPU, with their cumulative CPU.
func profileTable(label, file string, p *cpuProfile) perfkit.Table {
	t := perfkit.Table{
		Caption: fmt.Sprintf("CPU profile of the service during %s (`%s`; %d samples, %.2f s of CPU in %.1f s): "+
			"the top %d functions by their own CPU (flat), with the CPU of what they called (cum), as shares of all the service's CPU; "+
			"`go tool pprof -top -cum %s` lists the rest",
			label, file, p.samples, p.total.Seconds(), p.duration.Seconds(), profileTop, file),
		Header: []string{"#", "flat %", "cum %", "function"},
	}
	share := func(d time.Duration) string {
		if p.total == 0 {
			return "–"
		}
		return fmt.Sprintf("%.1f", 100*float64(d)/float64(p.total))
	}
	for i, f := range p.funcs[:min(profileTop, len(p.funcs))] {
		t.Rows = append(t.Rows, []string{itoa(i + 1), share(f.flat), share(f.cum), "`" + shortName(f.name) + "`"})
	}
	return t
}

// shortName writes a generic function's type arguments (GC shapes, often whole struct
// types with their tags) as "[…]".
func shortName(fn string) string {
	var b strings.Builder
	depth := 0
	for _, r := range fn {
		switch {
		case r == '[':
			if depth == 0 {
				b.WriteString("[…]")
			}
			depth++
		case r == ']' && depth > 0:
			depth--
		case depth == 0:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// packageOf is the package path of a Go function's symbol:
// "github.com/jackc/pgx/v5/pgconn.(*PgConn).Exec" → "github.com/jackc/pgx/v5/pgconn".
func packageOf(fn string) string {
	name, _, _ := strings.Cut(fn, "[") // a generic's shape may name other packages
	slash := strings.LastIndex(name, "/")
	if dot := strings.Index(name[slash+1:], "."); dot >= 0 {
		return name[:slash+1+dot]
	}
	return name
}

// byPackage is p's CPU by the package of the innermost frame (flat): shares that add up to
// the whole profile.
func (p *cpuProfile) byPackage() map[string]time.Duration {
	out := map[string]time.Duration{}
	for _, f := range p.funcs {
		out[packageOf(f.name)] += f.flat
	}
	return out
}

// packageTable compares the profiles by package (flat): the top packages of any of them,
// then the rest in one row.
func packageTable(labels []string, profiles []*cpuProfile) perfkit.Table {
	t := perfkit.Table{
		Caption: "The service's CPU by the package of the function that was running (flat, so the shares add up to 100%), " +
			"from the same profiles: `runtime` is the Go runtime (allocation, GC, scheduler), `internal/runtime/syscall/linux` " +
			"the system calls (socket reads and writes)",
		Header: append([]string{"package"}, labels...),
	}
	shares := make([]map[string]time.Duration, len(profiles))
	top := map[string]bool{}
	for i, p := range profiles {
		shares[i] = p.byPackage()
		names := slices.SortedFunc(maps.Keys(shares[i]), func(a, b string) int {
			return cmp.Or(cmp.Compare(shares[i][b], shares[i][a]), cmp.Compare(a, b))
		})
		for _, name := range names[:min(packageTop, len(names))] {
			top[name] = true
		}
	}
	names := slices.Sorted(maps.Keys(top))
	weight := func(name string) time.Duration {
		var w time.Duration
		for i, p := range profiles {
			if p.total > 0 {
				w += shares[i][name] * time.Duration(1000) / p.total
			}
		}
		return w
	}
	slices.SortStableFunc(names, func(a, b string) int { return cmp.Compare(weight(b), weight(a)) })
	pct := func(d, total time.Duration) string {
		if total == 0 {
			return "–"
		}
		return fmt.Sprintf("%.1f %%", 100*float64(d)/float64(total))
	}
	for _, name := range names {
		row := []string{"`" + name + "`"}
		for i, p := range profiles {
			row = append(row, pct(shares[i][name], p.total))
		}
		t.Rows = append(t.Rows, row)
	}
	rest := []string{"everything else"}
	for i, p := range profiles {
		d := p.total
		for _, name := range names {
			d -= shares[i][name]
		}
		rest = append(rest, pct(d, p.total))
	}
	t.Rows = append(t.Rows, rest)
	return t
}
