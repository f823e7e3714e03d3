package load

import (
	"bytes"
	"cmp"
	"compress/gzip"
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

	"google.golang.org/protobuf/encoding/protowire"

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

// parseCPUProfile reads a Go CPU profile (profile.proto, gzipped or not) with protowire: the
// few fields a top table needs (github.com/google/pprof/profile would need a new module).
// Per function, like `go tool pprof -top`: flat is the samples whose innermost frame (an
// inlined one included) is the function, cum the samples with the function anywhere in the
// stack, each sample counted once.
func parseCPUProfile(data []byte) (*cpuProfile, error) {
	if len(data) > 1 && data[0] == 0x1f && data[1] == 0x8b {
		zr, err := gzip.NewReader(bytes.NewReader(data))
		if err != nil {
			return nil, err
		}
		if data, err = io.ReadAll(zr); err != nil {
			return nil, err
		}
	}
	var (
		strs        []string
		sampleTypes []int64 // string index of each value's type
		samples     []profSample
		locs        = map[uint64][]uint64{} // location id → function ids, innermost first
		funcs       = map[uint64]int64{}    // function id → name's string index
		durationNS  int64
	)
	err := eachField(data, func(num protowire.Number, typ protowire.Type, v uint64, b []byte) error {
		switch num {
		case 1: // sample_type
			return eachField(b, func(num protowire.Number, _ protowire.Type, v uint64, _ []byte) error {
				if num == 1 {
					sampleTypes = append(sampleTypes, int64(v))
				}
				return nil
			})
		case 2: // sample
			var s profSample
			err := eachField(b, func(num protowire.Number, typ protowire.Type, v uint64, b []byte) error {
				var err error
				switch num {
				case 1:
					s.locs, err = appendVarints(s.locs, typ, v, b)
				case 2:
					s.values, err = appendVarints(s.values, typ, v, b)
				}
				return err
			})
			samples = append(samples, s)
			return err
		case 4: // location
			var id uint64
			var fns []uint64
			err := eachField(b, func(num protowire.Number, _ protowire.Type, v uint64, b []byte) error {
				switch num {
				case 1:
					id = v
				case 4: // line
					return eachField(b, func(num protowire.Number, _ protowire.Type, v uint64, _ []byte) error {
						if num == 1 {
							fns = append(fns, v)
						}
						return nil
					})
				}
				return nil
			})
			locs[id] = fns
			return err
		case 5: // function
			var id uint64
			var name int64
			err := eachField(b, func(num protowire.Number, _ protowire.Type, v uint64, _ []byte) error {
				switch num {
				case 1:
					id = v
				case 2:
					name = int64(v)
				}
				return nil
			})
			funcs[id] = name
			return err
		case 6: // string_table
			strs = append(strs, string(b))
		case 10: // duration_nanos
			durationNS = int64(v)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("unreadable profile: %w", err)
	}
	str := func(i int64) string {
		if i < 0 || int(i) >= len(strs) {
			return "?"
		}
		return strs[i]
	}
	value, count := len(sampleTypes)-1, -1 // Go's CPU profiles: samples/count, cpu/nanoseconds
	for i, t := range sampleTypes {
		switch str(t) {
		case "cpu":
			value = i
		case "samples":
			count = i
		}
	}
	if value < 0 {
		return nil, errors.New("the profile has no sample types")
	}
	p := &cpuProfile{duration: time.Duration(durationNS)}
	byName := map[string]*funcCost{}
	cost := func(name string) *funcCost {
		c, ok := byName[name]
		if !ok {
			c = &funcCost{name: name}
			byName[name] = c
		}
		return c
	}
	for _, s := range samples {
		if value >= len(s.values) {
			continue
		}
		v := time.Duration(s.values[value])
		p.total += v
		if count >= 0 && count < len(s.values) {
			p.samples += int(s.values[count])
		} else {
			p.samples++
		}
		seen := map[string]bool{}
		for i, loc := range s.locs {
			for j, fn := range locs[loc] {
				name := str(funcs[fn])
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

type profSample struct{ locs, values []uint64 }

// eachField calls f with every field of the protobuf message b: v for numbers, b for
// length-delimited values.
func eachField(b []byte, f func(num protowire.Number, typ protowire.Type, v uint64, b []byte) error) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
		var v uint64
		var data []byte
		switch typ {
		case protowire.VarintType:
			v, n = protowire.ConsumeVarint(b)
		case protowire.BytesType:
			data, n = protowire.ConsumeBytes(b)
		case protowire.Fixed64Type:
			v, n = protowire.ConsumeFixed64(b)
		case protowire.Fixed32Type:
			var x uint32
			x, n = protowire.ConsumeFixed32(b)
			v = uint64(x)
		default:
			n = protowire.ConsumeFieldValue(num, typ, b)
		}
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
		if err := f(num, typ, v, data); err != nil {
			return err
		}
	}
	return nil
}

// appendVarints appends a repeated integer field's values: packed (one length-delimited
// field) or one varint per field, as encoders may choose either.
func appendVarints(dst []uint64, typ protowire.Type, v uint64, b []byte) ([]uint64, error) {
	if typ == protowire.VarintType {
		return append(dst, v), nil
	}
	for len(b) > 0 {
		x, n := protowire.ConsumeVarint(b)
		if n < 0 {
			return dst, protowire.ParseError(n)
		}
		dst = append(dst, x)
		b = b[n:]
	}
	return dst, nil
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
