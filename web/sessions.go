package web

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"sync"
	"time"

	"tellonce/auth"
	"tellonce/directory"
	"tellonce/ratelimit"
)

type loginRequest struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

type userView struct {
	Username string `json:"username"`
	Name     string `json:"name"`
	Role     string `json:"role"`
	Agency   string `json:"agency"`
	PII      bool   `json:"pii"`
	Export   bool   `json:"export"`
}

func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	var req loginRequest
	if err := s.readBody(w, r, &req); err != nil {
		s.writeError(w, r, err)
		return
	}
	if req.Username == "" || len(req.Username) > 64 {
		s.writeError(w, r, errorf(http.StatusBadRequest, codeValidation, "username", "is required, at most 64 characters"))
		return
	}
	if req.Password == "" || len(req.Password) > directory.MaxPasswordLen {
		s.writeError(w, r, errorf(http.StatusBadRequest, codeValidation, "password", fmt.Sprintf("is required, at most %d bytes", directory.MaxPasswordLen)))
		return
	}
	addr := s.clientAddr(r)
	if ok, wait := s.loginAddr.Allow(ratelimit.AddrKey(addr)); !ok {
		s.tooMany(w, r, wait)
		return
	}
	if ok, wait := s.loginUser.Allow(req.Username); !ok {
		s.tooMany(w, r, wait)
		return
	}
	u, hash, err := s.dir.Credentials(r.Context(), req.Username)
	known := err == nil
	if errors.Is(err, directory.ErrNotFound) {
		hash = s.dummyHash
	} else if err != nil {
		s.writeError(w, r, err)
		return
	}
	ok, verr := auth.Verify(req.Password, hash)
	if verr != nil {
		s.log.Error("stored password hash unreadable", loginUser(known, req.Username), "err", verr)
	}
	if !known || !ok {
		s.log.Info("login failed", loginUser(known, req.Username), "client", addr)
		s.writeError(w, r, errorf(http.StatusUnauthorized, codeUnauthorized, "", "wrong user name or password"))
		return
	}
	token, exp, err := s.sessions.Create(r.Context(), u.Username, addr)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	http.SetCookie(w, &http.Cookie{
		Name: sessionCookie, Value: token, Path: "/", Expires: exp,
		HttpOnly: true, SameSite: http.SameSiteStrictMode,
		Secure: s.cfg.SecureCookies || r.TLS != nil,
	})
	s.log.Info("login", "user", u.Username, "role", u.Role, "client", addr)
	writeJSON(w, http.StatusCreated, map[string]any{
		"token":      token,
		"expires_at": exp,
		"user":       userView{Username: u.Username, Name: u.Name, Role: u.Role, Agency: u.Agency, PII: u.PII, Export: u.Export},
	})
}

// loginUser is what the log says of a login's user name. A user name that
// exists is logged as it is: whose account is being tried is what an
// operator needs to know. Any other name is what someone typed, and may
// be a password typed in the wrong field, a citizen's number, anything:
// the log gets only a short keyed hash of it (user_unknown), enough to see
// the same unknown name tried again and again, but not to find what it
// was. The key is made at start and never stored, so no one can test
// guesses against the hash, not even with the database in hand; hashes
// therefore differ between servers and across restarts.
func loginUser(known bool, typed string) slog.Attr {
	if known {
		return slog.String("user", typed)
	}
	m := hmac.New(sha256.New, loginLogKey())
	m.Write([]byte(typed))
	return slog.String("user_unknown", hex.EncodeToString(m.Sum(nil)[:4]))
}

var loginLogKey = sync.OnceValue(func() []byte {
	key := make([]byte, 32)
	rand.Read(key) // never returns an error: it crashes the program instead
	return key
})

func (s *Server) tooMany(w http.ResponseWriter, r *http.Request, wait time.Duration) {
	secs := int(math.Ceil(wait.Seconds()))
	if secs < 1 {
		secs = 1
	}
	w.Header().Set("Retry-After", fmt.Sprint(secs))
	s.writeError(w, r, errorf(http.StatusTooManyRequests, codeRateLimited, "", fmt.Sprintf("too many attempts; try again in %d seconds", secs)))
}

func (s *Server) currentSession(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	writeJSON(w, http.StatusOK, map[string]any{
		"user": userView{Username: p.Username, Name: p.Name, Role: p.Role, Agency: p.Agency, PII: p.PII, Export: p.Export},
	})
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	if err := s.sessions.Delete(r.Context(), p.SessionID); err != nil {
		s.writeError(w, r, err)
		return
	}
	s.hub.EndSession(p.SessionID)
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteStrictMode})
	w.WriteHeader(http.StatusNoContent)
}
