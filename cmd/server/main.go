// Command server is the service's one binary: it serves the HTTP API and manages the schema.
// Run `server help` for the commands.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"usersvc/app"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop() // the first signal starts a graceful shutdown; a second one kills at once
	}()
	code := app.Main(ctx, os.Args[1:], os.Environ(), os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
