package db

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// ErrBadCursor is returned for a cursor that was altered, truncated, or issued for another
// list or other filters. Callers answer it with 400.
var ErrBadCursor = errors.New("cursor is malformed, altered, or belongs to another query")

// Cursors signs and verifies opaque page cursors. A cursor is base64url(JSON of the last row's
// key) "." base64url(HMAC-SHA256(secret, scope, payload)); the scope names the list and its
// filters, so a cursor replayed against another list or filter fails verification instead of
// returning somebody else's page.
type Cursors struct {
	secret []byte
}

// NewCursors returns Cursors signing with secret (at least 16 bytes).
func NewCursors(secret []byte) (*Cursors, error) {
	if len(secret) < 16 {
		return nil, fmt.Errorf("db: cursor secret must be at least 16 bytes, got %d", len(secret))
	}
	return &Cursors{secret: secret}, nil
}

// Encode returns an opaque cursor holding values, valid only for scope.
func (c *Cursors) Encode(scope string, values ...any) (string, error) {
	payload, err := json.Marshal(values)
	if err != nil {
		return "", fmt.Errorf("db: encode cursor: %w", err)
	}
	enc := base64.RawURLEncoding
	return enc.EncodeToString(payload) + "." + enc.EncodeToString(c.mac(scope, payload)), nil
}

// Decode verifies that token was issued by Encode for scope and unmarshals its values into dst,
// which must match the encoded values in number and type. Only the exact text Encode
// returned is accepted: base64 decoding alone would also take it with newlines inserted or
// with other bits in its last character's padding. Every failure is ErrBadCursor.
func (c *Cursors) Decode(scope, token string, dst ...any) error {
	enc := base64.RawURLEncoding
	body, sig, ok := strings.Cut(token, ".")
	if !ok {
		return ErrBadCursor
	}
	payload, err1 := enc.DecodeString(body)
	mac, err2 := enc.DecodeString(sig)
	if err1 != nil || err2 != nil || !hmac.Equal(mac, c.mac(scope, payload)) ||
		enc.EncodeToString(payload) != body || enc.EncodeToString(mac) != sig {
		return ErrBadCursor
	}
	var raw []json.RawMessage
	if err := json.Unmarshal(payload, &raw); err != nil || len(raw) != len(dst) {
		return ErrBadCursor
	}
	for i := range raw {
		if err := json.Unmarshal(raw[i], dst[i]); err != nil {
			return ErrBadCursor
		}
	}
	return nil
}

func (c *Cursors) mac(scope string, payload []byte) []byte {
	h := hmac.New(sha256.New, c.secret)
	h.Write([]byte(scope))
	h.Write([]byte{0})
	h.Write(payload)
	return h.Sum(nil)
}
