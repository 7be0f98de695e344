package edge

import (
	"fmt"
	"os"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/emiago/diago"
	"github.com/emiago/sipgo/sip"
	"github.com/goccy/go-yaml"
	"github.com/icholy/digest"
)

// LoadPhones reads the phones file: the agents' SIP phones that may
// REGISTER with the edge, by the agent's username.
//
//	phones:
//	  - username: kim.minji
//	    password: a-long-secret
func LoadPhones(path string) (map[string]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--phones: %w", err)
	}
	var f struct {
		Phones []struct {
			Username string `yaml:"username"`
			Password string `yaml:"password"`
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
		if len(p.Password) < 8 {
			return nil, fmt.Errorf("--phones %s: phones[%d].password: at least 8 characters", path, i)
		}
		if _, dup := out[p.Username]; dup {
			return nil, fmt.Errorf("--phones %s: phones[%d].username: %q twice", path, i, p.Username)
		}
		out[p.Username] = p.Password
	}
	return out, nil
}

var usernameRe = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)

// registrar keeps where each agent's phone registered from.
type registrar struct {
	passwords map[string]string
	auth      *diago.DigestAuthServer

	mu    sync.Mutex
	bound map[string]binding
}

type binding struct {
	contact string
	until   time.Time
}

func newRegistrar(passwords map[string]string) *registrar {
	return &registrar{passwords: passwords, auth: diago.NewDigestServer(), bound: map[string]binding{}}
}

const realm = "tellonce"

// handle answers REGISTER: a digest challenge, then the binding.
func (r *registrar) handle(req *sip.Request, tx sip.ServerTransaction) {
	respond := func(res *sip.Response) { _ = tx.Respond(res) }
	to := req.To()
	if to == nil || to.Address.User == "" {
		respond(sip.NewResponseFromRequest(req, sip.StatusBadRequest, "Bad Request", nil))
		return
	}
	user := to.Address.User
	pw, ok := r.passwords[user]
	if h := req.GetHeader("Authorization"); h != nil {
		cred, err := digest.ParseCredentials(h.Value())
		if err != nil || cred.Username != user {
			respond(sip.NewResponseFromRequest(req, sip.StatusForbidden, "Forbidden", nil))
			return
		}
	}
	if !ok {
		// Challenged all the same, so an unknown name looks like a wrong
		// password.
		pw = "\x00unknown"
	}
	res, err := r.auth.AuthorizeRequest(req, diago.DigestAuth{Username: user, Password: pw, Realm: realm})
	if err != nil || res.StatusCode != sip.StatusOK || !ok {
		if res.StatusCode == sip.StatusOK {
			res = sip.NewResponseFromRequest(req, sip.StatusForbidden, "Forbidden", nil)
		}
		respond(res)
		return
	}
	expires := 3600
	if h := req.GetHeader("Expires"); h != nil {
		fmt.Sscanf(h.Value(), "%d", &expires)
	}
	c := req.Contact()
	r.mu.Lock()
	if c == nil || expires == 0 {
		delete(r.bound, user)
	} else {
		r.bound[user] = binding{contact: c.Address.String(), until: time.Now().Add(time.Duration(expires) * time.Second)}
	}
	r.mu.Unlock()
	ok200 := sip.NewResponseFromRequest(req, sip.StatusOK, "OK", nil)
	if c != nil {
		ok200.AppendHeader(c.Clone())
	}
	ok200.AppendHeader(sip.NewHeader("Expires", fmt.Sprint(expires)))
	respond(ok200)
}

// lookup is the SIP URI the agent's phone registered, "" when none.
func (r *registrar) lookup(user string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	b, ok := r.bound[user]
	if !ok || time.Now().After(b.until) {
		return ""
	}
	return strings.TrimSpace(b.contact)
}
