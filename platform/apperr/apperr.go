// Package apperr holds the small set of domain errors every module returns and the HTTP layer
// maps to status codes in one place (platform/web). Modules wrap them with context; callers
// compare with errors.Is and read the client-safe detail with errors.As(*Error).
package apperr

import (
	"errors"
	"fmt"
)

// The kinds of failure a client can act on. Anything else is an internal error.
var (
	// ErrInvalid: the request itself is wrong (syntax, types, unknown fields, rule violations).
	ErrInvalid = errors.New("invalid input")
	// ErrNotFound: the addressed resource does not exist (or is deleted and not asked for).
	ErrNotFound = errors.New("not found")
	// ErrConflict: the change would break a uniqueness rule held by another resource.
	ErrConflict = errors.New("conflict")
	// ErrVersionMismatch: the caller's precondition (If-Match) names a stale version.
	ErrVersionMismatch = errors.New("version mismatch")
	// ErrUnavailable: the database cannot serve the request now; retrying later may work.
	ErrUnavailable = errors.New("unavailable")
	// ErrKeyReused: an Idempotency-Key comes back with a different request.
	ErrKeyReused = errors.New("idempotency key reused")
)

// Error pairs one of the kinds above with a detail that is safe to show to the client.
type Error struct {
	Kind   error
	Detail string
}

func (e *Error) Error() string { return e.Kind.Error() + ": " + e.Detail }

// Unwrap lets errors.Is(err, ErrConflict) see the kind.
func (e *Error) Unwrap() error { return e.Kind }

// Invalid returns an ErrInvalid with a client-facing detail.
func Invalid(format string, args ...any) error { return newError(ErrInvalid, format, args) }

// NotFound returns an ErrNotFound with a client-facing detail.
func NotFound(format string, args ...any) error { return newError(ErrNotFound, format, args) }

// Conflict returns an ErrConflict with a client-facing detail.
func Conflict(format string, args ...any) error { return newError(ErrConflict, format, args) }

// VersionMismatch returns an ErrVersionMismatch with a client-facing detail.
func VersionMismatch(format string, args ...any) error {
	return newError(ErrVersionMismatch, format, args)
}

// KeyReused returns an ErrKeyReused with a client-facing detail.
func KeyReused(format string, args ...any) error { return newError(ErrKeyReused, format, args) }

// Unavailable returns an ErrUnavailable with a client-facing detail.
func Unavailable(format string, args ...any) error {
	return newError(ErrUnavailable, format, args)
}

func newError(kind error, format string, args []any) error {
	return &Error{Kind: kind, Detail: fmt.Sprintf(format, args...)}
}

// Detail returns the client-safe detail carried by err, or "" when it carries none.
func Detail(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Detail
	}
	return ""
}
