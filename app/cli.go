package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"text/tabwriter"
	"time"

	"usersvc/platform/events"
)

// Exit statuses of the binary.
const (
	ExitOK      = 0
	ExitFailure = 1 // the command ran and failed (database unreachable, migration error, …)
	ExitUsage   = 2 // bad command line or configuration
)

const usage = `usage: server [--config FILE] [command]

commands:
  serve                           migrate (when migrations.auto) and serve HTTP (default)
  migrate up [--to ID]            apply pending migrations, up to and including ID
  migrate down [--to ID | --all]  roll back the last migration, those after ID, or all
  migrate status                  list every migration: applied (with when) or pending
  events list [--state S] [--limit N]
                                  list module events on their way to subscribers; S is
                                  pending (default), dead (gave up: dead letters) or all
  events retry ID... | --dead     deliver those again now (JOB_ID from the list), or every
                                  dead letter; an event handled already is not handled twice
  modules                         print the module map (Markdown with a Mermaid diagram)
  help                            show this text

The configuration file may also be named by USERSVC_CONFIG; see configs/default.yaml.
`

// Main runs the binary with args (without the program name) and the process environment,
// and returns the exit status. ctx is cancelled by SIGINT/SIGTERM.
func Main(ctx context.Context, args, environ []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("server", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	configPath := fs.String("config", lookupEnv(environ, "USERSVC_CONFIG"), "configuration file")
	if err := fs.Parse(args); err != nil {
		return usageError(stderr, err.Error())
	}
	cmd, rest := "serve", fs.Args()
	if len(rest) > 0 {
		cmd, rest = rest[0], rest[1:]
	}
	switch {
	case cmd == "help" || cmd == "-h":
		fmt.Fprint(stdout, usage)
		return ExitOK
	case cmd == "modules" && len(rest) == 0: // from the code alone: no configuration, no database
		fmt.Fprint(stdout, ModuleMap(Modules(Deps{})))
		return ExitOK
	}
	run, err := command(cmd, rest)
	if err != nil {
		return usageError(stderr, err.Error())
	}
	cfg, err := LoadConfig(*configPath, environ)
	if err == nil && cmd == "serve" {
		err = cfg.ValidateServe()
	}
	if err != nil {
		fail(stderr, err)
		return ExitUsage
	}
	log := newLogger(cfg.Log, stderr)
	if cmd == "serve" {
		applyRuntime(cfg.Runtime, environ, log)
	}
	a, err := New(ctx, cfg, log)
	if err != nil {
		return fail(stderr, err)
	}
	err = run(ctx, a, stdout)
	if cerr := a.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		return fail(stderr, err)
	}
	return ExitOK
}

type runFunc func(ctx context.Context, a *App, stdout io.Writer) error

// command parses the command words into the function that runs them.
func command(cmd string, args []string) (runFunc, error) {
	switch cmd {
	case "serve":
		if len(args) > 0 {
			return nil, fmt.Errorf("serve takes no arguments, got %q", args)
		}
		return func(ctx context.Context, a *App, _ io.Writer) error { return a.Serve(ctx) }, nil
	case "migrate":
		return migrateCommand(args)
	case "events":
		return eventsCommand(args)

	default:
		return nil, fmt.Errorf("unknown command %q", cmd)
	}
}

func migrateCommand(args []string) (runFunc, error) {
	if len(args) == 0 {
		return nil, errors.New("migrate needs up, down or status")
	}
	fs := flag.NewFlagSet("migrate "+args[0], flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	to := fs.String("to", "", "migration ID")
	all := fs.Bool("all", false, "roll back every migration")
	if err := fs.Parse(args[1:]); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	switch {
	case args[0] == "up" && !*all:
		return func(ctx context.Context, a *App, out io.Writer) error {
			done, err := a.Migrator().Up(ctx, *to)
			report(out, "applied", done, err)
			return err
		}, nil
	case args[0] == "down" && !(*all && *to != ""):
		return func(ctx context.Context, a *App, out io.Writer) error {
			done, err := a.Migrator().Down(ctx, *to, *all)
			report(out, "rolled back", done, err)
			return err
		}, nil
	case args[0] == "status" && !*all && *to == "":
		return func(ctx context.Context, a *App, out io.Writer) error { return printStatus(ctx, a, out) }, nil
	default:
		return nil, fmt.Errorf("migrate %s: use `migrate up [--to ID]`, `migrate down [--to ID | --all]` or `migrate status`", strings.Join(args, " "))
	}
}

func eventsCommand(args []string) (runFunc, error) {
	if len(args) == 0 {
		return nil, errors.New("events needs list or retry")
	}
	fs := flag.NewFlagSet("events "+args[0], flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	state := fs.String("state", events.ListPending, "pending, dead or all")
	limit := fs.Int("limit", 100, "at most this many")
	dead := fs.Bool("dead", false, "every dead letter")
	if err := fs.Parse(args[1:]); err != nil {
		return nil, err
	}
	switch {
	case args[0] == "list" && fs.NArg() == 0 && !*dead && *limit >= 1 && *limit <= 10000:
		return func(ctx context.Context, a *App, out io.Writer) error {
			ds, err := a.Events().List(ctx, *state, *limit)
			if err != nil {
				return err
			}
			return printDeliveries(out, ds)
		}, nil
	case args[0] == "retry" && (fs.NArg() > 0) != *dead:
		ids := make([]int64, fs.NArg())
		for i, arg := range fs.Args() {
			if _, err := fmt.Sscan(arg, &ids[i]); err != nil || ids[i] < 1 {
				return nil, fmt.Errorf("events retry: %q is not a job id", arg)
			}
		}
		return func(ctx context.Context, a *App, out io.Writer) error {
			if *dead {
				ds, err := a.Events().List(ctx, events.ListDead, 10000)
				if err != nil {
					return err
				}
				for _, d := range ds {
					ids = append(ids, d.JobID)
				}
			}
			err := a.Events().Retry(ctx, ids...)
			if err == nil {
				fmt.Fprintf(out, "%d queued for delivery again\n", len(ids))
			}
			return err
		}, nil
	default:
		return nil, fmt.Errorf("events %s: use `events list [--state pending|dead|all] [--limit N]` or `events retry JOB_ID... | --dead`", strings.Join(args, " "))
	}
}

func printDeliveries(out io.Writer, ds []events.Delivery) error {
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "JOB_ID\tSUBSCRIBER\tTYPE\tEVENT_ID\tSTATE\tATTEMPTS\tPUBLISHED\tLAST ERROR")
	for _, d := range ds {
		fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%s\t%d/%d\t%s\t%s\n", d.JobID, d.Subscriber, d.Type, d.EventID, d.State,
			d.Attempts, d.MaxAttempts, d.PublishedAt.UTC().Format(time.RFC3339), strings.Join(strings.Fields(d.LastError), " "))
	}
	return w.Flush()
}

// report lists what a run did; "nothing" only when it succeeded with nothing to do.
func report(out io.Writer, verb string, ids []string, err error) {
	if len(ids) == 0 && err == nil {
		fmt.Fprintf(out, "nothing %s\n", verb)
	}
	for _, id := range ids {
		fmt.Fprintf(out, "%s %s\n", verb, id)
	}
}

func printStatus(ctx context.Context, a *App, out io.Writer) error {
	statuses, err := a.Migrator().Status(ctx)
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "ID\tSTATE\tAPPLIED AT")
	for _, s := range statuses {
		state, at := "pending", "-"
		switch {
		case !s.Known:
			state = "unknown (not in this binary)"
		case s.Applied:
			state = "applied"
		}
		if s.AppliedAt != nil {
			at = s.AppliedAt.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(w, "%s\t%s\t%s\n", s.ID, state, at)
	}
	return w.Flush()
}

func usageError(stderr io.Writer, msg string) int {
	fmt.Fprintf(stderr, "server: %s\n\n%s", msg, usage)
	return ExitUsage
}

// fail prints the error on one line (it is what an operator reads first, and what log
// collectors keep together) and returns ExitFailure.
func fail(stderr io.Writer, err error) int {
	fmt.Fprintf(stderr, "server: %s\n", strings.Join(strings.Fields(strings.ReplaceAll(err.Error(), "\n", "; ")), " "))
	return ExitFailure
}

func newLogger(cfg LogConfig, w io.Writer) *slog.Logger {
	level, _ := parseLevel(cfg.Level) // validated by LoadConfig
	opts := &slog.HandlerOptions{Level: level}
	if cfg.Format == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

func lookupEnv(environ []string, name string) string {
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok && k == name {
			return v
		}
	}
	return ""
}
