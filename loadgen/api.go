package loadgen

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// APIError is an error answer of the server: the status and the contract's
// {"error":{code,message,field}} body.
type APIError struct {
	Status  int
	Code    string
	Message string
	Field   string
	// RetryAfter is the Retry-After of a 429, zero otherwise.
	RetryAfter time.Duration
}

func (e *APIError) Error() string {
	s := fmt.Sprintf("%d %s: %s", e.Status, e.Code, e.Message)
	if e.Field != "" {
		s += " (field " + e.Field + ")"
	}
	return s
}

// kind names the error for the report's error table: "http 429
// rate_limited", say.
func (e *APIError) kind() string { return fmt.Sprintf("http %d %s", e.Status, e.Code) }

// errorKind names any error for the error table.
func errorKind(prefix string, err error) string {
	var ae *APIError
	switch {
	case errors.As(err, &ae):
		return prefix + ": " + ae.kind()
	case errors.Is(err, context.DeadlineExceeded):
		return prefix + ": timeout"
	case errors.Is(err, context.Canceled):
		return prefix + ": canceled"
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return prefix + ": timeout"
	}
	return prefix + ": transport error"
}

// client calls the REST API as one principal (or anonymously).
type client struct {
	base  string // scheme://host:port, no trailing slash
	hc    *http.Client
	token string
}

// maxAnswer bounds what is read of any answer.
const maxAnswer = 1 << 20

// do sends a JSON request and decodes a 2xx answer into out (if not nil).
// Anything else is an *APIError (or a transport error).
func (c *client) do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		return answerError(resp, data)
	}
	if out == nil || len(data) == 0 {
		return nil
	}
	return json.Unmarshal(data, out)
}

func answerError(resp *http.Response, data []byte) *APIError {
	var body struct {
		Error struct {
			Code, Message, Field string
		} `json:"error"`
	}
	e := &APIError{Status: resp.StatusCode}
	if json.Unmarshal(data, &body) == nil && body.Error.Code != "" {
		e.Code, e.Message, e.Field = body.Error.Code, body.Error.Message, body.Error.Field
	} else {
		e.Code, e.Message = "unknown", strings.TrimSpace(string(data))
		if len(e.Message) > 200 {
			e.Message = e.Message[:200] + "…"
		}
	}
	if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s > 0 {
		e.RetryAfter = time.Duration(s) * time.Second
	}
	return e
}

// login opens a session and returns the client acting as that user. A 429
// is waited out (Retry-After) and retried until ctx ends, so a server with
// the default login limits is slow to log many users in, never failed by it.
func (c *client) login(ctx context.Context, username, password string) (*client, error) {
	body := map[string]string{"username": username, "password": password}
	for {
		var out struct {
			Token string `json:"token"`
		}
		err := c.do(ctx, http.MethodPost, "/v1/sessions", body, &out)
		var ae *APIError
		if errors.As(err, &ae) && ae.Status == http.StatusTooManyRequests {
			wait := max(ae.RetryAfter, time.Second)
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return nil, fmt.Errorf("log in %s: %w (still rate limited: %v)", username, ctx.Err(), err)
			case <-t.C:
			}
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("log in %s: %w", username, err)
		}
		if out.Token == "" {
			return nil, fmt.Errorf("log in %s: the answer has no token", username)
		}
		return &client{base: c.base, hc: c.hc, token: out.Token}, nil
	}
}

// logout ends the session (best effort: errors are returned, not retried).
func (c *client) logout(ctx context.Context) error {
	return c.do(ctx, http.MethodDelete, "/v1/sessions/current", nil, nil)
}

// checkLoopback refuses a server that is not on this machine: a load
// generator must not be pointed at someone else's service by accident.
// It returns the base URL (scheme://host:port) and whether the host is an
// IPv4 loopback address (or localhost), from which logins can be spread
// over several source addresses.
func checkLoopback(raw string) (base string, v4 bool, err error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", false, fmt.Errorf("url %q: %w", raw, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", false, fmt.Errorf("url %q: want http:// or https://", raw)
	}
	if u.Path != "" && u.Path != "/" || u.RawQuery != "" || u.User != nil {
		return "", false, fmt.Errorf("url %q: give only scheme://host:port", raw)
	}
	host := u.Hostname()
	switch ip := net.ParseIP(host); {
	case host == "localhost":
		v4 = true
	case ip != nil && ip.IsLoopback():
		v4 = ip.To4() != nil
	default:
		return "", false, fmt.Errorf("url %q: loadgen drives loopback servers only (127.0.0.0/8, ::1, localhost)", raw)
	}
	return u.Scheme + "://" + u.Host, v4, nil
}

// wsURL turns the base URL into the WebSocket URL of path.
func wsURL(base, path string) string {
	if rest, ok := strings.CutPrefix(base, "https://"); ok {
		return "wss://" + rest + path
	}
	return "ws://" + strings.TrimPrefix(base, "http://") + path
}
