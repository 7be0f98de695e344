package auth

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"

	tsql "tellonce/sql"
)

// ContactTokens makes and checks the token a citizen gets with a contact:
// an HMAC of the contact id under a server key kept in the database, so
// every server of a deployment accepts it and nothing per contact is
// stored. Knowing a contact id does not let anyone forge its token.
type ContactTokens struct {
	key []byte
}

// LoadContactTokens reads the server key, creating it on first use.
func LoadContactTokens(ctx context.Context, db *tsql.DB) (*ContactTokens, error) {
	key, err := serverKey(ctx, db, "contact_tokens")
	if err != nil {
		return nil, err
	}
	return &ContactTokens{key: key}, nil
}

// NewContactTokens uses a given key (tests).
func NewContactTokens(key []byte) *ContactTokens {
	return &ContactTokens{key: append([]byte(nil), key...)}
}

// Token returns the citizen token of a contact.
func (t *ContactTokens) Token(contactID string) string {
	return base64.RawURLEncoding.EncodeToString(t.mac(contactID))
}

// Valid reports, in constant time, whether token belongs to contactID.
func (t *ContactTokens) Valid(contactID, token string) bool {
	got, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil {
		return false
	}
	return hmac.Equal(got, t.mac(contactID))
}

func (t *ContactTokens) mac(contactID string) []byte {
	m := hmac.New(sha256.New, t.key)
	m.Write([]byte("contact:"))
	m.Write([]byte(contactID))
	return m.Sum(nil)
}

// serverKey returns the named 32-byte key, creating it once. Two servers
// starting together agree: the insert does nothing when a key exists.
func serverKey(ctx context.Context, db *tsql.DB, name string) ([]byte, error) {
	fresh := make([]byte, 32)
	if _, err := rand.Read(fresh); err != nil {
		return nil, fmt.Errorf("server key %s: %w", name, err)
	}
	if _, err := db.ExecContext(ctx, db.Rebind(`INSERT INTO server_keys (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING`),
		name, base64.StdEncoding.EncodeToString(fresh)); err != nil {
		return nil, fmt.Errorf("server key %s: %w", name, err)
	}
	var v string
	if err := db.GetContext(ctx, &v, db.Rebind(`SELECT value FROM server_keys WHERE name = ?`), name); err != nil {
		return nil, fmt.Errorf("server key %s: %w", name, err)
	}
	key, err := base64.StdEncoding.DecodeString(v)
	if err != nil || len(key) < 32 {
		return nil, fmt.Errorf("server key %s is damaged", name)
	}
	return key, nil
}
