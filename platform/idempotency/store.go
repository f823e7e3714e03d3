package idempotency

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/go-gormigrate/gormigrate/v2"
	"github.com/labstack/echo/v4"
	"gorm.io/gorm"

	migs "usersvc/migrations/idempotency"
	"usersvc/platform/actor"
	"usersvc/platform/apperr"
	"usersvc/platform/db"
	"usersvc/platform/resilience"
)

// Header is the request header that carries the key.
const Header = "Idempotency-Key"

// ReplayedHeader is set on a response that repeats a stored one.
const ReplayedHeader = "Idempotent-Replayed"

// replayedHeaders are the response headers stored with a key and repeated on replay.
var replayedHeaders = []string{echo.HeaderContentType, echo.HeaderLocation, "ETag"}

// Runner is the database access the store needs (platform/db.Runner).
type Runner interface {
	Transact(ctx context.Context, fn func(tx *gorm.DB) error) error
}

// Store keeps idempotency keys in PostgreSQL.
type Store struct {
	db  Runner
	ttl time.Duration
	log *slog.Logger
}

// NewStore returns a Store whose keys expire after ttl.
func NewStore(r Runner, ttl time.Duration, log *slog.Logger) *Store {
	return &Store{db: r, ttl: ttl, log: log}
}

// Migrations are the store's schema changes.
func Migrations() []*gormigrate.Migration { return migs.All() }

// Models are the store's GORM models, for the schema drift test.
func Models() []any { return []any{&Record{}} }

// errNotStored rolls back a request whose answer was a 5xx: nothing is kept, the client may
// retry with the same key.
var errNotStored = errors.New("idempotency: 5xx answers are not stored")

// Middleware makes a write route idempotent for requests that send an Idempotency-Key. Such
// a request runs inside one transaction that first claims the key, then runs the handler
// (whose repository joins the transaction, see db.WithTx), then stores the response, and
// commits; the response is sent only after the commit. The same key and request again
// returns the stored response; the same key with another request is 422. Requests without
// the header run as usual.
func (s *Store) Middleware() echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			// Present but blank (net/http trims it to "") or given twice is a mistake, not a
			// request without a key: running it unprotected could write twice.
			values, present := c.Request().Header[Header]
			if !present {
				return next(c)
			}
			if len(values) > 1 {
				return apperr.Invalid("send one %s header, got %d", Header, len(values))
			}
			key := values[0]
			if !validKey(key) {
				return apperr.Invalid("%s must be 1 to 255 printable ASCII characters", Header)
			}
			body, err := io.ReadAll(c.Request().Body)
			if err != nil {
				var he *echo.HTTPError
				if errors.As(err, &he) {
					return err // the body limit's 413
				}
				return fmt.Errorf("%w: %w", apperr.Invalid("the request body could not be read"), err)
			}
			owner := ownerOf(c.Request())
			hash := requestHash(c.Request(), body)
			var out *response
			err = s.db.Transact(c.Request().Context(), func(tx *gorm.DB) error {
				out = nil
				stored, err := s.claim(tx, owner, key, hash)
				if err != nil || stored != nil {
					out = stored
					return err
				}
				if out, err = capture(c, tx, body, next); err != nil {
					return err
				}
				if out.status >= 500 {
					return errNotStored
				}
				return tx.Model(&Record{}).Where("owner = ? AND key = ?", owner, key).
					Updates(map[string]any{"status": out.status, "headers": out.headers, "body": out.body}).Error
			})
			if err != nil && !errors.Is(err, errNotStored) {
				return err
			}
			return out.write(c)
		}
	}
}

// claim takes the key for this request, or returns the response stored under it. A
// concurrent request with the same key waits here (INSERT … ON CONFLICT waits for the other
// transaction) and then replays what it stored.
func (s *Store) claim(tx *gorm.DB, owner, key string, hash []byte) (*response, error) {
	// The row the INSERT ran into may be gone by the time it is read (the cleanup deleted
	// it, expired): then claim again.
	for range 3 {
		res := tx.Exec(`INSERT INTO idempotency_keys (owner, key, request_hash, status, headers, body, created_at, expires_at)
			VALUES (?, ?, ?, 0, '{}', '', now(), now() + make_interval(secs => ?))
			ON CONFLICT (owner, key) DO NOTHING`, owner, key, hash, s.ttl.Seconds())
		if res.Error != nil {
			return nil, res.Error
		}
		if res.RowsAffected == 1 {
			return nil, nil
		}
		var rec struct {
			Record
			Expired bool
		}
		err := tx.Raw(`SELECT *, expires_at < now() AS expired FROM idempotency_keys
			WHERE owner = ? AND key = ? FOR UPDATE`, owner, key).Scan(&rec).Error
		if err != nil {
			return nil, err
		}
		switch {
		case rec.Key == "":
			continue // deleted meanwhile
		case rec.Expired: // as good as absent: the cleanup has not got to it yet
			return nil, tx.Exec(`UPDATE idempotency_keys SET request_hash = ?, status = 0, headers = '{}', body = '',
				created_at = now(), expires_at = now() + make_interval(secs => ?) WHERE owner = ? AND key = ?`,
				hash, s.ttl.Seconds(), owner, key).Error
		case !bytes.Equal(rec.RequestHash, hash):
			return nil, apperr.KeyReused("%s %q was already used with a different request; use a new key", Header, key)
		}
		return &response{status: rec.Status, headers: rec.Headers, body: rec.Body, replayed: true}, nil
	}
	return nil, fmt.Errorf("idempotency: key %q keeps disappearing while claimed", key)
}

// Cleanup deletes expired keys, a thousand at a time, and returns how many it deleted.
func (s *Store) Cleanup(ctx context.Context) (int64, error) {
	var total int64
	for {
		var n int64
		err := s.db.Transact(ctx, func(tx *gorm.DB) error {
			res := tx.Exec(`DELETE FROM idempotency_keys WHERE ctid IN (
				SELECT ctid FROM idempotency_keys WHERE expires_at < now() ORDER BY expires_at LIMIT 1000)`)
			n = res.RowsAffected
			return res.Error
		})
		total += n
		if err != nil || n == 0 {
			return total, err
		}
	}
}

func validKey(key string) bool {
	if key == "" || len(key) > 255 {
		return false
	}
	for i := 0; i < len(key); i++ {
		if key[i] < 0x21 || key[i] > 0x7e {
			return false
		}
	}
	return true
}

// ownerOf names the client a key belongs to: the name of its token (the request's actor),
// so clients never see each other's keys, however they spell their Authorization header,
// and no credential is stored.
func ownerOf(r *http.Request) string {
	return "token:" + actor.From(r.Context())
}

// requestHash identifies "the same request": method, path with query, and body.
func requestHash(r *http.Request, body []byte) []byte {
	h := sha256.New()
	fmt.Fprintf(h, "%s %s\n", r.Method, r.URL.RequestURI())
	h.Write(body)
	return h.Sum(nil)
}

// retriedByRunner reports whether err must reach the Runner (which retries the whole
// transaction or answers 503) rather than be stored as the key's response.
func retriedByRunner(err error) bool {
	switch resilience.Classify(err) {
	case resilience.ClassContention, resilience.ClassConnectionLost, resilience.ClassUnavailable, resilience.ClassTimeout,
		resilience.ClassCallerGone:
		return true
	}
	return errors.Is(err, db.ErrOutcomeUnknown)
}
