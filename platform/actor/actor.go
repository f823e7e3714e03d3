// Package actor carries who is making a change — the name of the API token a request
// authenticated with — from the edge to the audit rows and events written for it.
package actor

import "context"

// The actors of changes no token made.
const (
	// Anonymous makes the changes of requests served with auth.disabled.
	Anonymous = "anonymous"
	// System makes the changes no request caused (maintenance commands, jobs).
	System = "system"
)

type key struct{}

// With returns ctx acting as name.
func With(ctx context.Context, name string) context.Context {
	return context.WithValue(ctx, key{}, name)
}

// From is the actor ctx acts as: System when none was set.
func From(ctx context.Context) string {
	if name, ok := ctx.Value(key{}).(string); ok && name != "" {
		return name
	}
	return System
}
