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

// ContactTokens makes and checks what tellonce hands a citizen, and the
// identities it keys their places by, all as HMACs under one server key
// kept in the database, so every server of a deployment agrees and nothing
// per contact is stored:
//
//   - the citizen token of a contact, which reaches that contact and the
//     legs transfers make of it;
//   - the continuation token of a case, which lets its citizen open a new
//     contact on it later (a new chat, another device);
//   - identities: a keyed digest of a number the phone network asserted,
//     or of one chat device's cookie. Equal inputs give equal identities,
//     and the stored identity reveals neither the number nor the cookie.
//
// Knowing an id does not let anyone forge its token.
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
	return base64.RawURLEncoding.EncodeToString(t.mac("contact:", contactID))
}

// Valid reports, in constant time, whether token belongs to contactID.
func (t *ContactTokens) Valid(contactID, token string) bool {
	return t.valid("contact:", contactID, token)
}

// CaseToken returns the continuation token of a case.
func (t *ContactTokens) CaseToken(caseID string) string {
	return base64.RawURLEncoding.EncodeToString(t.mac("case:", caseID))
}

// ValidCase reports, in constant time, whether token continues caseID.
func (t *ContactTokens) ValidCase(caseID, token string) bool {
	return t.valid("case:", caseID, token)
}

// PhoneIdentity is the identity of a number the phone network asserted.
func (t *ContactTokens) PhoneIdentity(number string) string {
	return "tel:" + t.digest("tel:", number)
}

// DeviceIdentity is the identity of one chat device (its cookie).
func (t *ContactTokens) DeviceIdentity(device string) string {
	return "chat:" + t.digest("device:", device)
}

// digest is 144 bits of a keyed hash: plenty against collisions between
// the callers of one deployment, and short enough for an index key.
func (t *ContactTokens) digest(domain, s string) string {
	return base64.RawURLEncoding.EncodeToString(t.mac(domain, s)[:18])
}

func (t *ContactTokens) valid(domain, id, token string) bool {
	if id == "" || token == "" || len(token) > 64 {
		return false
	}
	got, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil {
		return false
	}
	return hmac.Equal(got, t.mac(domain, id))
}

// mac separates its uses by domain, so that no token of one kind is a
// valid token of another.
func (t *ContactTokens) mac(domain, id string) []byte {
	m := hmac.New(sha256.New, t.key)
	m.Write([]byte(domain))
	m.Write([]byte(id))
	return m.Sum(nil)
}

// NewDevice returns a fresh chat device secret for the device cookie.
func NewDevice() (string, error) {
	return randomString(24)
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
