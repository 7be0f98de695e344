package edge

import (
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"

	"tellonce/clocktest"
)

func registerRequest(t *testing.T, user, expires string) *sip.Request {
	t.Helper()
	var uri sip.Uri
	if err := sip.ParseUri("sip:"+user+"@127.0.0.1:5060", &uri); err != nil {
		t.Fatal(err)
	}
	req := sip.NewRequest(sip.REGISTER, uri)
	req.AppendHeader(sip.NewHeader("To", "<sip:"+user+"@127.0.0.1:5060>"))
	req.AppendHeader(sip.NewHeader("From", "<sip:"+user+"@127.0.0.1:5060>;tag=x"))
	req.AppendHeader(sip.NewHeader("Contact", "<sip:"+user+"@127.0.0.1:5070>"))
	if expires != "" {
		req.AppendHeader(sip.NewHeader("Expires", expires))
	}
	return req
}

// answer signs req for the challenge in res, as a phone would, with the
// password or (when password is empty) the HA1.
func answer(t *testing.T, req *sip.Request, res *sip.Response, user, password string) *sip.Request {
	t.Helper()
	h := res.GetHeader("WWW-Authenticate")
	if res.StatusCode != sip.StatusUnauthorized || h == nil {
		t.Fatalf("want a 401 challenge, got %d", res.StatusCode)
	}
	chal, err := digest.ParseChallenge(h.Value())
	if err != nil {
		t.Fatalf("challenge %q: %v", h.Value(), err)
	}
	cred, err := digest.Digest(chal, digest.Options{Method: "REGISTER", URI: req.Recipient.String(), Username: user, Password: password})
	if err != nil {
		t.Fatal(err)
	}
	signed := req.Clone()
	signed.RemoveHeader("Authorization")
	signed.AppendHeader(sip.NewHeader("Authorization", cred.String()))
	return signed
}

func TestRegistrarDigest(t *testing.T) {
	clock := clocktest.New(time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC))
	r := newRegistrar(map[string]string{
		"kim.minji": HA1("kim.minji", "long-enough"),
		"lee.sora":  HA1("lee.sora", "another-secret"), // as from an ha1: line
	}, clock.Now)

	req := registerRequest(t, "lee.sora", "600")
	res := r.register(req)
	if !strings.Contains(res.GetHeader("WWW-Authenticate").Value(), `qop="auth"`) {
		t.Errorf("challenge %q offers no qop=auth", res.GetHeader("WWW-Authenticate").Value())
	}
	signed := answer(t, req, res, "lee.sora", "another-secret")
	if res := r.register(signed); res.StatusCode != sip.StatusOK || res.GetHeader("Expires").Value() != "600" {
		t.Fatalf("signed REGISTER: %d %v", res.StatusCode, res.GetHeader("Expires"))
	}
	if got := r.lookup("lee.sora"); got != "sip:lee.sora@127.0.0.1:5070" {
		t.Errorf("lookup = %q", got)
	}

	// The same signed request again: its nonce is spent, so it is a
	// replay: a fresh challenge marked stale, and no change.
	res = r.register(signed)
	if res.StatusCode != sip.StatusUnauthorized || !strings.Contains(strings.ToLower(res.GetHeader("WWW-Authenticate").Value()), "stale=true") {
		t.Errorf("replayed REGISTER: %d %v; want 401 stale", res.StatusCode, res.GetHeader("WWW-Authenticate"))
	}

	// A challenge answered after its life is stale too.
	req = registerRequest(t, "kim.minji", "")
	res = r.register(req)
	clock.Advance(nonceLife + time.Second)
	if res := r.register(answer(t, req, res, "kim.minji", "long-enough")); res.StatusCode != sip.StatusUnauthorized {
		t.Errorf("late answer: %d; want 401", res.StatusCode)
	}

	// Wrong password, unknown user, another user's name: refused alike.
	for _, c := range []struct{ to, as, pw string }{
		{"kim.minji", "kim.minji", "wrong-password"},
		{"nobody", "nobody", "long-enough"},
		{"kim.minji", "lee.sora", "another-secret"},
	} {
		req := registerRequest(t, c.to, "")
		if res := r.register(answer(t, req, r.register(req), c.as, c.pw)); res.StatusCode != sip.StatusForbidden {
			t.Errorf("%s as %s: %d; want 403", c.to, c.as, res.StatusCode)
		}
	}
	if got := r.lookup("kim.minji"); got != "" {
		t.Errorf("refused phone bound: %q", got)
	}

	// Expires: too brief is 423 with Min-Expires; too long is cut; not a
	// number is 400; the binding lapses when it says.
	req = registerRequest(t, "kim.minji", "10")
	res = r.register(answer(t, req, r.register(req), "kim.minji", "long-enough"))
	if res.StatusCode != 423 || res.GetHeader("Min-Expires").Value() != "60" {
		t.Errorf("Expires 10: %d", res.StatusCode)
	}
	req = registerRequest(t, "kim.minji", "86400")
	res = r.register(answer(t, req, r.register(req), "kim.minji", "long-enough"))
	if res.StatusCode != sip.StatusOK || res.GetHeader("Expires").Value() != "3600" {
		t.Errorf("Expires 86400: %d %v", res.StatusCode, res.GetHeader("Expires"))
	}
	if res := r.register(registerRequest(t, "kim.minji", "soon")); res.StatusCode != sip.StatusBadRequest {
		t.Errorf("Expires soon: %d; want 400", res.StatusCode)
	}
	clock.Advance(3600 * time.Second)
	if got := r.lookup("kim.minji"); got != "" {
		t.Errorf("lapsed binding still found: %q", got)
	}
}

// TestRegistrarBoundsChallenges: a flood of unsigned REGISTERs holds at
// most maxNonces challenges; once they lapse there is room again.
func TestRegistrarBoundsChallenges(t *testing.T) {
	clock := clocktest.New(time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC))
	r := newRegistrar(map[string]string{}, clock.Now)
	req := registerRequest(t, "kim.minji", "")
	for range maxNonces {
		if res := r.register(req); res.StatusCode != sip.StatusUnauthorized {
			t.Fatalf("challenge: %d", res.StatusCode)
		}
	}
	if res := r.register(req); res.StatusCode != sip.StatusServiceUnavailable {
		t.Fatalf("beyond the bound: %d; want 503", res.StatusCode)
	}
	clock.Advance(nonceLife)
	if res := r.register(req); res.StatusCode != sip.StatusUnauthorized || len(r.nonces) != 1 {
		t.Fatalf("after the challenges lapsed: %d with %d outstanding", res.StatusCode, len(r.nonces))
	}
}
