package edge

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
)

// api is the router's REST API as the gateway account uses it.
type api struct {
	base     *url.URL
	http     *http.Client
	username string
	password string

	mu    sync.Mutex
	token string
}

func newAPI(cfg *Config) *api {
	return &api{base: cfg.Router, http: &http.Client{}, username: cfg.Username, password: cfg.Password, token: cfg.Token}
}

// apiError is a non-2xx answer.
type apiError struct {
	Status int
	Body   string
}

func (e *apiError) Error() string { return fmt.Sprintf("router answered %d: %s", e.Status, e.Body) }

// Code is the error's code (closed, conflict, …), "" when unreadable.
func (e *apiError) Code() string {
	var b struct {
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	_ = json.Unmarshal([]byte(e.Body), &b)
	return b.Error.Code
}

// isClosed says whether err is the router's answer for a queue outside
// its opening hours.
func isClosed(err error) bool {
	var ae *apiError
	return errors.As(err, &ae) && ae.Status == http.StatusConflict && ae.Code() == "closed"
}

// bearer returns the token, logging in when there is none; fresh forces a
// new login (the old token was refused).
func (a *api) bearer(ctx context.Context, fresh bool) (string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.token != "" && !fresh {
		return a.token, nil
	}
	if a.username == "" {
		if a.token == "" {
			return "", errors.New("no gateway token")
		}
		return a.token, nil // a fixed token: nothing to renew
	}
	var res struct {
		Token string `json:"token"`
	}
	if err := a.do(ctx, "", http.MethodPost, "/v1/sessions", map[string]string{"username": a.username, "password": a.password}, nil, &res); err != nil {
		return "", fmt.Errorf("gateway login: %w", err)
	}
	a.token = res.Token
	return a.token, nil
}

// call sends an authenticated request, logging in again once on a 401.
func (a *api) call(ctx context.Context, method, path string, body any, header http.Header, out any) error {
	for attempt := 0; ; attempt++ {
		tok, err := a.bearer(ctx, attempt > 0)
		if err != nil {
			return err
		}
		err = a.do(ctx, tok, method, path, body, header, out)
		var ae *apiError
		if attempt == 0 && errors.As(err, &ae) && ae.Status == http.StatusUnauthorized && a.username != "" {
			continue
		}
		return err
	}
}

func (a *api) do(ctx context.Context, token, method, path string, body any, header http.Header, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	u := a.base.JoinPath(path)
	req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
	if err != nil {
		return err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := a.http.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if err != nil {
		return err
	}
	if res.StatusCode/100 != 2 {
		return &apiError{Status: res.StatusCode, Body: string(b)}
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("%s %s: %w", method, path, err)
		}
	}
	return nil
}

// newContact is POST /v1/contacts for a voice call.
type newContact struct {
	Channel string        `json:"channel"`
	Queue   string        `json:"queue"`
	Caller  contactCaller `json:"caller"`
	Context contactCtx    `json:"context"`
}

type contactCaller struct {
	ID       string `json:"id"`
	Language string `json:"language,omitempty"`
}

type contactCtx struct {
	IVR []string `json:"ivr"`
}

// contactState is the answer of POST and GET /v1/contacts.
type contactState struct {
	ContactID       string `json:"contact_id"`
	CaseID          string `json:"case_id"`
	Queue           string `json:"queue"`
	Status          string `json:"status"`
	Position        int    `json:"position"`
	EstimatedWaitS  int    `json:"estimated_wait_s"`
	CallbackOffered bool   `json:"callback_offered"`
}

// createContact puts a call in line; the SIP Call-ID is the idempotency
// key, so a retry after a lost answer does not lose the place.
func (a *api) createContact(ctx context.Context, c newContact, callID string) (contactState, error) {
	var out contactState
	h := http.Header{}
	if callID != "" && len(callID) <= 128 {
		h.Set("Idempotency-Key", callID)
	}
	err := a.call(ctx, http.MethodPost, "/v1/contacts", c, h, &out)
	return out, err
}

func (a *api) contact(ctx context.Context, id string) (contactState, error) {
	var out contactState
	err := a.call(ctx, http.MethodGet, "/v1/contacts/"+url.PathEscape(id), nil, nil, &out)
	return out, err
}

// keepPlaceCallback turns a waiting call into a callback that keeps its
// place.
func (a *api) keepPlaceCallback(ctx context.Context, id, number string) error {
	return a.call(ctx, http.MethodPost, "/v1/contacts/"+url.PathEscape(id)+"/callback", map[string]string{"number": number}, nil, nil)
}
