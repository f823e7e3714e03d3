package load

import (
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protowire"
)

func TestParsePgbenchLog(t *testing.T) {
	// pgbench 15 -l: client_id transaction_no time(µs) script_no time_epoch time_us
	log := `0 1 523 0 1732795412 123456
1 1 1480 0 1732795412 124001
0 2 611 0 1732795412 124100
`
	h := &Histogram{}
	require.NoError(t, parsePgbenchLog(strings.NewReader(log), h))
	require.Equal(t, int64(3), h.n)
	require.Equal(t, 611*time.Microsecond, h.Quantile(0.5))
	require.Equal(t, 1480*time.Microsecond, h.Quantile(0.99))

	require.ErrorContains(t, parsePgbenchLog(strings.NewReader("3 7 failed 0 1732795412 124100\n"), &Histogram{}), "did not succeed")
	require.Error(t, parsePgbenchLog(strings.NewReader("3 7\n"), &Histogram{}))
}

func TestReadPgbenchLogsReadsEveryThreadsFileAndDeletesThem(t *testing.T) {
	dir := t.TempDir()
	prefix := filepath.Join(dir, "get_c20")
	require.NoError(t, os.WriteFile(prefix+".4242", []byte("0 1 100 0 1 1\n0 2 200 0 1 2\n"), 0o644))
	require.NoError(t, os.WriteFile(prefix+".4242.1", []byte("1 1 300 0 1 3\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "create_c20.4242"), []byte("0 1 9999 0 1 1\n"), 0o644))
	h, err := readPgbenchLogs(prefix)
	require.NoError(t, err)
	require.Equal(t, map[int64]int64{100: 1, 200: 1, 300: 1}, h.counts)
	left, _ := filepath.Glob(filepath.Join(dir, "*"))
	require.Equal(t, []string{filepath.Join(dir, "create_c20.4242")}, left)
	_, err = readPgbenchLogs(prefix)
	require.ErrorContains(t, err, "no transaction log")
}

func TestPgbenchTooManyClientsIsRecognised(t *testing.T) {
	require.True(t, tooManyClients.MatchString(`pgbench: error: connection to server at "127.0.0.1", port 5432 failed: FATAL:  sorry, too many clients already`))
	require.True(t, tooManyClients.MatchString(`FATAL:  remaining connection slots are reserved for non-replication superuser connections`))
}

// syntheticProfile encodes a CPU profile (profile.proto) by hand: main → handler → (inlined
// encode → leaf) 30 ms; main → handler 10 ms; main → gc 20 ms. Repeated fields are packed
// in one sample and not in the other, as encoders may do either.
func syntheticProfile() []byte {
	str := []string{"", "samples", "count", "cpu", "nanoseconds", "main", "handler", "encode", "leaf", "gc"}
	var b []byte
	msg := func(num protowire.Number, body []byte) {
		b = protowire.AppendTag(b, num, protowire.BytesType)
		b = protowire.AppendBytes(b, body)
	}
	valueType := func(typ, unit uint64) []byte {
		var m []byte
		m = protowire.AppendTag(m, 1, protowire.VarintType)
		m = protowire.AppendVarint(m, typ)
		m = protowire.AppendTag(m, 2, protowire.VarintType)
		return protowire.AppendVarint(m, unit)
	}
	msg(1, valueType(1, 2))
	msg(1, valueType(3, 4))
	packed := func(num protowire.Number, xs ...uint64) []byte {
		var p []byte
		for _, x := range xs {
			p = protowire.AppendVarint(p, x)
		}
		m := protowire.AppendTag(nil, num, protowire.BytesType)
		return protowire.AppendBytes(m, p)
	}
	unpacked := func(num protowire.Number, xs ...uint64) []byte {
		var m []byte
		for _, x := range xs {
			m = protowire.AppendTag(m, num, protowire.VarintType)
			m = protowire.AppendVarint(m, x)
		}
		return m
	}
	msg(2, append(packed(1, 3, 2, 1), packed(2, 3, 30e6)...)) // leaf(+encode inlined) ← handler ← main
	msg(2, append(unpacked(1, 2, 1), unpacked(2, 1, 10e6)...))
	msg(2, append(unpacked(1, 4, 1), packed(2, 2, 20e6)...))
	location := func(id uint64, funcs ...uint64) []byte {
		m := unpacked(1, id)
		for _, f := range funcs {
			m = append(m, protowire.AppendBytes(protowire.AppendTag(nil, 4, protowire.BytesType), unpacked(1, f))...)
		}
		return m
	}
	msg(4, location(1, 1))    // main
	msg(4, location(2, 2))    // handler
	msg(4, location(3, 4, 3)) // leaf inlined into encode
	msg(4, location(4, 5))    // gc
	for id, name := range []uint64{5, 6, 7, 8, 9} {
		msg(5, append(unpacked(1, uint64(id+1)), unpacked(2, name)...))
	}
	for _, s := range str {
		b = protowire.AppendTag(b, 6, protowire.BytesType)
		b = protowire.AppendString(b, s)
	}
	b = protowire.AppendTag(b, 10, protowire.VarintType)
	b = protowire.AppendVarint(b, uint64(time.Second))
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	_, _ = zw.Write(b)
	_ = zw.Close()
	return z.Bytes()
}

func TestParseCPUProfile(t *testing.T) {
	p, err := parseCPUProfile(syntheticProfile())
	require.NoError(t, err)
	require.Equal(t, 60*time.Millisecond, p.total)
	require.Equal(t, time.Second, p.duration)
	require.Equal(t, 6, p.samples)
	ms := time.Millisecond
	require.Equal(t, []funcCost{
		{"leaf", 30 * ms, 30 * ms}, {"gc", 20 * ms, 20 * ms}, {"handler", 10 * ms, 40 * ms},
		{"main", 0, 60 * ms}, {"encode", 0, 30 * ms},
	}, p.funcs)
	table := profileTable("a test", "cpu-test.pprof", p)
	require.Equal(t, []string{"1", "50.0", "50.0", "`leaf`"}, table.Rows[0])
	require.Equal(t, []string{"4", "0.0", "100.0", "`main`"}, table.Rows[3])

	_, err = parseCPUProfile([]byte{0x0a, 0xff})
	require.Error(t, err)
}

// A profile Go itself writes parses too (the service's comes from the same runtime/pprof).
func TestParseCPUProfileOfThisProcess(t *testing.T) {
	var buf bytes.Buffer
	require.NoError(t, pprof.StartCPUProfile(&buf))
	x := 0
	for start := time.Now(); time.Since(start) < 200*time.Millisecond; {
		x++
	}
	pprof.StopCPUProfile()
	require.Positive(t, x)
	p, err := parseCPUProfile(buf.Bytes())
	require.NoError(t, err)
	require.Positive(t, p.duration)
	if p.samples > 0 {
		require.Positive(t, p.total)
		require.NotEmpty(t, p.funcs)
	}
}

func TestPackageOf(t *testing.T) {
	for fn, want := range map[string]string{
		"github.com/jackc/pgx/v5/pgconn.(*PgConn).Exec": "github.com/jackc/pgx/v5/pgconn",
		"runtime.mallocgc":                                                  "runtime",
		"internal/runtime/syscall/linux.Syscall6":                           "internal/runtime/syscall/linux",
		"usersvc/modules/users..Routes.Resource[go.shape.*uint8].Get.func4": "usersvc/modules/users",
		"encoding/json.appendString[go.shape.string]":                       "encoding/json",
		"gorm.io/gorm.(*DB).First":                                          "gorm.io/gorm",
		"slices.SortFunc[go.shape.[]gorm.io/gorm/schema.Field]":             "slices",
	} {
		require.Equal(t, want, packageOf(fn), fn)
	}
}

func TestShortName(t *testing.T) {
	require.Equal(t, "usersvc/platform/entity.(*Store[…]).Insert.func1",
		shortName("usersvc/platform/entity.(*Store[go.shape.struct { Name string \"json:\\\"name\\\"\" },go.shape.[]uint8]).Insert.func1"))
	require.Equal(t, "runtime.mallocgc", shortName("runtime.mallocgc"))
}

func TestPackageTableAddsUpPerProfile(t *testing.T) {
	p, err := parseCPUProfile(syntheticProfile())
	require.NoError(t, err)
	table := packageTable([]string{"GET", "POST"}, []*cpuProfile{p, p})
	require.Equal(t, []string{"package", "GET", "POST"}, table.Header)
	require.Equal(t, []string{"`leaf`", "50.0 %", "50.0 %"}, table.Rows[0]) // a function without a package is its own
	require.Equal(t, []string{"everything else", "0.0 %", "0.0 %"}, table.Rows[len(table.Rows)-1])
}
