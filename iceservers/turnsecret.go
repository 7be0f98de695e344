package iceservers

import (
	"crypto/hmac"
	"crypto/sha1" // coturn's TURN REST API scheme is HMAC-SHA1
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"
)

// Time-limited TURN credentials, the scheme coturn implements with
// use-auth-secret and static-auth-secret (the "TURN REST API"): the
// username is "EXPIRY:NAME" (EXPIRY in Unix seconds) and the password is
// base64(HMAC-SHA1(secret, username)). coturn recomputes the password
// from the username and refuses it once EXPIRY has passed, so whoever
// learns one (a desk's page, a log) can use it for TTL at most, and the
// secret itself never leaves the server and the edge.

// MinSecret is the shortest shared secret taken.
const MinSecret = 16

// DefaultTTL is how long a minted credential lasts unless told: a few
// hours, longer than any call (each offer gets fresh ones).
const DefaultTTL = 4 * time.Hour

// Minter makes credentials from the secret shared with the TURN servers.
// It never shows the secret: not in String, not in a log record.
type Minter struct {
	secret []byte
	ttl    time.Duration
}

// NewMinter takes the shared secret and how long each credential lasts.
func NewMinter(secret []byte, ttl time.Duration) (*Minter, error) {
	if len(secret) < MinSecret {
		return nil, fmt.Errorf("the TURN secret is %d bytes; want at least %d", len(secret), MinSecret)
	}
	if ttl < time.Minute || ttl > 48*time.Hour {
		return nil, fmt.Errorf("TURN credential lifetime %s: want 1m to 48h", ttl)
	}
	return &Minter{secret: append([]byte(nil), secret...), ttl: ttl}, nil
}

// TTL is how long a credential minted now lasts.
func (m *Minter) TTL() time.Duration { return m.ttl }

// Mint is the credential of name (an agent's username, the edge's
// gateway account) valid until now+TTL.
func (m *Minter) Mint(name string, now time.Time) (username, credential string) {
	username = strconv.FormatInt(now.Add(m.ttl).Unix(), 10) + ":" + name
	return username, Credential(m.secret, username)
}

// Credential is base64(HMAC-SHA1(secret, username)).
func Credential(secret []byte, username string) string {
	mac := hmac.New(sha1.New, secret)
	mac.Write([]byte(username))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// For is servers with the TURN ones given name's credentials, minted now;
// STUN servers and TURN servers with static credentials are as they were.
// servers is not changed.
func (m *Minter) For(servers []Server, name string, now time.Time) []Server {
	out := make([]Server, len(servers))
	copy(out, servers)
	var user, cred string
	for i := range out {
		if out[i].Username != "" || !isTURN(out[i].URL) {
			continue
		}
		if user == "" {
			user, cred = m.Mint(name, now)
		}
		out[i].Username, out[i].Credential = user, cred
	}
	return out
}

func (m *Minter) String() string { return "TURN credential minter (secret not shown)" }

// LogValue keeps the secret out of structured logs.
func (m *Minter) LogValue() slog.Value { return slog.StringValue(m.String()) }

// ParseMinted reads --ice-servers for a minter: its TURN servers carry no
// user:pass@ (each desk and the edge get minted ones).
func ParseMinted(list string) ([]Server, error) {
	servers, err := parse(list, true)
	if err != nil {
		return nil, err
	}
	turn := false
	for _, s := range servers {
		turn = turn || isTURN(s.URL)
	}
	if !turn {
		return nil, errors.New("a TURN secret needs a turn: or turns: server in the list")
	}
	return servers, nil
}

func isTURN(url string) bool {
	return len(url) > 5 && (url[:5] == "turn:" || url[:6] == "turns:")
}
