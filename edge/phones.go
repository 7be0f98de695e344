package edge

import (
	"crypto/md5"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/goccy/go-yaml"
	"github.com/icholy/digest"
)

// realm is the digest realm phones answer. An HA1 in the phones file is
// computed over it, so it is fixed, not configurable.
const realm = "tellonce"

// LoadPhones reads the phones file: the agents' SIP phones that may
// REGISTER with the edge, by the agent's username. Each gives a password
// or its HA1 (the hex MD5 of "username:tellonce:password"), so the file
// need not hold passwords. It returns each phone's HA1: the edge keeps
// no password in memory.
//
//	phones:
//	  - username: kim.minji
//	    password: a-long-secret
//	  - username: lee.sora
//	    ha1: 5f4dcc3b5aa765d61d8327deb882cf99
func LoadPhones(path string) (map[string]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--phones: %w", err)
	}
	var f struct {
		Phones []struct {
			Username string `yaml:"username"`
			Password string `yaml:"password"`
			HA1      string `yaml:"ha1"`
		} `yaml:"phones"`
	}
	if err := yaml.UnmarshalWithOptions(data, &f, yaml.Strict()); err != nil {
		return nil, fmt.Errorf("--phones %s: %s", path, yaml.FormatError(err, false, false))
	}
	out := map[string]string{}
	for i, p := range f.Phones {
		if !usernameRe.MatchString(p.Username) {
			return nil, fmt.Errorf("--phones %s: phones[%d].username: %q is not a username", path, i, p.Username)
		}
		if _, dup := out[p.Username]; dup {
			return nil, fmt.Errorf("--phones %s: phones[%d].username: %q twice", path, i, p.Username)
		}
		switch {
		case p.Password != "" && p.HA1 != "":
			return nil, fmt.Errorf("--phones %s: phones[%d]: password and ha1 both given; give one", path, i)
		case p.HA1 != "":
			if !ha1Re.MatchString(p.HA1) {
				return nil, fmt.Errorf("--phones %s: phones[%d].ha1: 32 lowercase hex digits, the MD5 of %q", path, i, p.Username+":"+realm+":password")
			}
			out[p.Username] = p.HA1
		case len(p.Password) < 8:
			return nil, fmt.Errorf("--phones %s: phones[%d].password: at least 8 characters (or give ha1)", path, i)
		default:
			out[p.Username] = HA1(p.Username, p.Password)
		}
	}
	return out, nil
}

// HA1 is the digest secret of a phone: the hex MD5 of
// "username:tellonce:password" (RFC 2617's A1 hashed).
func HA1(username, password string) string {
	sum := md5.Sum([]byte(username + ":" + realm + ":" + password))
	return hex.EncodeToString(sum[:])
}

var (
	usernameRe = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)
	ha1Re      = regexp.MustCompile(`^[0-9a-f]{32}$`)
)

// Registration limits. A phone asking for less than minExpires is told
// 423 (RFC 3261 10.3); more than maxExpires is granted maxExpires, so a
// phone that went away is forgotten within the hour.
const (
	minExpires = 60
	maxExpires = 3600
	// nonceLife is how long a challenge may be answered; a nonce is good
	// for one request, so a captured REGISTER cannot be replayed.
	nonceLife = 30 * time.Second
	// maxNonces bounds the challenges outstanding, so a flood of
	// unauthenticated REGISTERs cannot grow memory without end.
	maxNonces = 10000
)

// registrar keeps where each agent's phone registered from.
type registrar struct {
	ha1s map[string]string
	now  func() time.Time

	mu     sync.Mutex
	nonces map[string]time.Time // outstanding challenges and when they lapse
	bound  map[string]binding
}

type binding struct {
	contact string
	until   time.Time
}

func newRegistrar(ha1s map[string]string, now func() time.Time) *registrar {
	return &registrar{ha1s: ha1s, now: now, nonces: map[string]time.Time{}, bound: map[string]binding{}}
}

// handle answers REGISTER: a digest challenge, then the binding.
func (r *registrar) handle(req *sip.Request, tx sip.ServerTransaction) {
	_ = tx.Respond(r.register(req))
}

// register is REGISTER's answer: a challenge, a refusal, or 200 with the
// binding made (or removed, for Expires 0).
func (r *registrar) register(req *sip.Request) *sip.Response {
	to := req.To()
	if to == nil || to.Address.User == "" {
		return sip.NewResponseFromRequest(req, sip.StatusBadRequest, "Bad Request: To names no user", nil)
	}
	user := to.Address.User
	expires := maxExpires
	if h := req.GetHeader("Expires"); h != nil {
		n, err := strconv.Atoi(strings.TrimSpace(h.Value()))
		if err != nil || n < 0 {
			return sip.NewResponseFromRequest(req, sip.StatusBadRequest, "Bad Request: Expires is not a number of seconds", nil)
		}
		expires = n
	}
	if res := r.authorize(req, user); res != nil {
		return res
	}
	switch {
	case expires > 0 && expires < minExpires:
		res := sip.NewResponseFromRequest(req, 423, "Interval Too Brief", nil)
		res.AppendHeader(sip.NewHeader("Min-Expires", strconv.Itoa(minExpires)))
		return res
	case expires > maxExpires:
		expires = maxExpires
	}
	c := req.Contact()
	r.mu.Lock()
	if c == nil || expires == 0 {
		delete(r.bound, user)
	} else {
		r.bound[user] = binding{contact: c.Address.String(), until: r.now().Add(time.Duration(expires) * time.Second)}
	}
	r.mu.Unlock()
	ok := sip.NewResponseFromRequest(req, sip.StatusOK, "OK", nil)
	if c != nil {
		ok.AppendHeader(c.Clone())
	}
	ok.AppendHeader(sip.NewHeader("Expires", strconv.Itoa(expires)))
	return ok
}

// authorize checks the request's digest credentials against the user's
// HA1: nil when they hold, else the response to send. An unknown user
// is challenged and refused like a wrong password, so names cannot be
// probed.
func (r *registrar) authorize(req *sip.Request, user string) *sip.Response {
	h := req.GetHeader("Authorization")
	if h == nil {
		return r.challenge(req, false)
	}
	cred, err := digest.ParseCredentials(h.Value())
	if err != nil {
		return sip.NewResponseFromRequest(req, sip.StatusBadRequest, "Bad Request: Authorization is not digest credentials", nil)
	}
	if cred.Username != user || cred.Realm != realm {
		return sip.NewResponseFromRequest(req, sip.StatusForbidden, "Forbidden", nil)
	}
	if a := strings.ToUpper(cred.Algorithm); a != "" && a != "MD5" {
		return sip.NewResponseFromRequest(req, sip.StatusForbidden, "Forbidden: only MD5 digests", nil)
	}
	if cred.QOP != "" && cred.QOP != "auth" {
		return sip.NewResponseFromRequest(req, sip.StatusForbidden, "Forbidden: qop must be auth", nil)
	}
	if !r.spend(cred.Nonce) {
		// Expired or already used: a fresh challenge, marked stale so the
		// phone answers it without asking anyone for a password.
		return r.challenge(req, true)
	}
	ha1, known := r.ha1s[user]
	if !known {
		return sip.NewResponseFromRequest(req, sip.StatusForbidden, "Forbidden", nil)
	}
	chal := &digest.Challenge{Realm: realm, Nonce: cred.Nonce, Algorithm: "MD5"}
	if cred.QOP != "" {
		chal.QOP = []string{cred.QOP}
	}
	want, err := digest.Digest(chal, digest.Options{
		Method: req.Method.String(), URI: cred.URI, Username: user, A1: ha1,
		Cnonce: cred.Cnonce, Count: cred.Nc,
	})
	if err != nil || subtle.ConstantTimeCompare([]byte(want.Response), []byte(cred.Response)) != 1 {
		return sip.NewResponseFromRequest(req, sip.StatusForbidden, "Forbidden", nil)
	}
	return nil
}

// challenge is a 401 with a new nonce, or 503 when too many are
// outstanding.
func (r *registrar) challenge(req *sip.Request, stale bool) *sip.Response {
	var b [24]byte
	if _, err := rand.Read(b[:]); err != nil {
		return sip.NewResponseFromRequest(req, sip.StatusInternalServerError, "Server Internal Error", nil)
	}
	nonce := base64.RawURLEncoding.EncodeToString(b[:])
	now := r.now()
	r.mu.Lock()
	if len(r.nonces) >= maxNonces {
		for n, until := range r.nonces {
			if !now.Before(until) {
				delete(r.nonces, n)
			}
		}
	}
	full := len(r.nonces) >= maxNonces
	if !full {
		r.nonces[nonce] = now.Add(nonceLife)
	}
	r.mu.Unlock()
	if full {
		res := sip.NewResponseFromRequest(req, sip.StatusServiceUnavailable, "Service Unavailable", nil)
		res.AppendHeader(sip.NewHeader("Retry-After", "5"))
		return res
	}
	chal := digest.Challenge{Realm: realm, Nonce: nonce, Algorithm: "MD5", QOP: []string{"auth"}, Stale: stale}
	res := sip.NewResponseFromRequest(req, sip.StatusUnauthorized, "Unauthorized", nil)
	res.AppendHeader(sip.NewHeader("WWW-Authenticate", chal.String()))
	return res
}

// spend uses up a nonce: true when it was outstanding and unexpired.
func (r *registrar) spend(nonce string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	until, ok := r.nonces[nonce]
	delete(r.nonces, nonce)
	return ok && r.now().Before(until)
}

// lookup is the SIP URI the agent's phone registered, "" when none.
func (r *registrar) lookup(user string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	b, ok := r.bound[user]
	if !ok || !r.now().Before(b.until) {
		return ""
	}
	return strings.TrimSpace(b.contact)
}
