package migrations_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// serverTimeout bounds every run of the binary.
const serverTimeout = time.Minute

// serverCommand prepares the binary with args against dbURL. The environment is the test's,
// minus every setting of the service, plus DATABASE_URL and extraEnv: the binary runs on its
// built-in defaults as in production.
func serverCommand(ctx context.Context, dbURL string, extraEnv []string, args ...string) (cmd *exec.Cmd, stdout, stderr *bytes.Buffer) {
	cmd = exec.CommandContext(ctx, serverBin, args...)
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		switch {
		case strings.HasPrefix(name, "USERSVC_"), name == "DATABASE_URL", name == "HTTP_ADDR", name == "API_TOKENS":
		default:
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(append(cmd.Env, "DATABASE_URL="+dbURL), extraEnv...)
	stdout, stderr = new(bytes.Buffer), new(bytes.Buffer)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	return cmd, stdout, stderr
}

// result is how a run of the binary ended.
type result struct {
	code           int
	stdout, stderr string
}

// exitResult turns what Wait or Run returned into a result; any error other than a non-zero
// exit (the binary could not start, or was killed) fails the test.
func exitResult(t *testing.T, err error, stdout, stderr *bytes.Buffer) result {
	t.Helper()
	code := 0
	if err != nil {
		var exit *exec.ExitError
		require.ErrorAs(t, err, &exit, "server did not run to its end; stderr: %s", stderr)
		require.True(t, exit.Exited(), "server was killed (%v); stderr: %s", err, stderr)
		code = exit.ExitCode()
	}
	return result{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

// runServer runs the binary with args against dbURL to its end.
func runServer(t *testing.T, dbURL string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), serverTimeout)
	defer cancel()
	cmd, stdout, stderr := serverCommand(ctx, dbURL, nil, args...)
	return exitResult(t, cmd.Run(), stdout, stderr)
}

// lines splits output into its non-empty lines.
func lines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.TrimSpace(l) != "" {
			out = append(out, l)
		}
	}
	return out
}

// requireOneLineFailure checks the binary's failure contract: exit status 1 and exactly one
// line on stderr, "server: <reason>", naming what is wrong.
func requireOneLineFailure(t *testing.T, res result, names string) {
	t.Helper()
	require.Equal(t, 1, res.code, "exit status; stdout: %s; stderr: %s", res.stdout, res.stderr)
	errLines := lines(res.stderr)
	require.Len(t, errLines, 1, "stderr must be one line, got: %q", res.stderr)
	require.True(t, strings.HasPrefix(errLines[0], "server: "), "stderr: %q", errLines[0])
	require.Contains(t, errLines[0], names)
}

// statusLine is one row of `server migrate status`.
type statusLine struct {
	state string // applied, pending, unknown (not in this binary)
	at    string // RFC 3339, or "-"
}

// parseStatus reads the table `server migrate status` prints: a header, then one row per
// migration, "ID  STATE  APPLIED AT", the state possibly several words. It returns the IDs in
// printed order and each row.
func parseStatus(t *testing.T, out string) ([]string, map[string]statusLine) {
	t.Helper()
	ls := lines(out)
	require.NotEmpty(t, ls, "status printed nothing")
	require.Equal(t, []string{"ID", "STATE", "APPLIED", "AT"}, strings.Fields(ls[0]), "header")
	var order []string
	rows := map[string]statusLine{}
	for _, l := range ls[1:] {
		f := strings.Fields(l)
		require.GreaterOrEqual(t, len(f), 3, "status row %q", l)
		id := f[0]
		rows[id] = statusLine{state: strings.Join(f[1:len(f)-1], " "), at: f[len(f)-1]}
		order = append(order, id)
	}
	return order, rows
}
