// Package iceservers reads the STUN/TURN server list that `tellonce serve`
// and `tellonce edge` take as --ice-servers: comma-separated URLs
// (RFC 7064/7065), a TURN server's credentials written into it as
// user:pass@, e.g. "stun:stun.example:3478,turn:alice:s3cret@turn.example:3478?transport=udp".
// The same list reaches the browser (the agent's hello) and the edge's
// pion peer connections. With a secret shared with the TURN servers
// (turnsecret.go) the TURN servers are listed without credentials and
// each desk and edge is given short-lived ones instead.
package iceservers

import (
	"fmt"
	"strings"
)

// Server is one STUN or TURN server, as WebRTC's RTCIceServer has it.
type Server struct {
	URL        string // without the credentials
	Username   string
	Credential string
}

// Parse reads a comma-separated list; "" is none. A password may hold
// ':' and '@' (the last '@' ends it) but not ','.
func Parse(list string) ([]Server, error) { return parse(list, false) }

// parse reads the list; minted: TURN servers take no credentials (a
// Minter gives them), otherwise they need them.
func parse(list string, minted bool) ([]Server, error) {
	var out []Server
	for _, item := range strings.Split(list, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		s, err := parseOne(item, minted)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

func parseOne(item string, minted bool) (Server, error) {
	scheme, rest, ok := strings.Cut(item, ":")
	if !ok {
		return Server{}, fmt.Errorf("ice server %q: want stun:, stuns:, turn: or turns: and a host", redact(item))
	}
	scheme = strings.ToLower(scheme)
	turn := scheme == "turn" || scheme == "turns"
	if !turn && scheme != "stun" && scheme != "stuns" {
		return Server{}, fmt.Errorf("ice server %q: scheme %q is not stun, stuns, turn or turns", redact(item), scheme)
	}
	var s Server
	if at := strings.LastIndex(rest, "@"); at >= 0 {
		if !turn {
			return Server{}, fmt.Errorf("ice server %q: a STUN server takes no credentials", redact(item))
		}
		if minted {
			return Server{}, fmt.Errorf("ice server %q: with a TURN secret the credentials are minted; drop user:pass@", redact(item))
		}
		user, pass, ok := strings.Cut(rest[:at], ":")
		if !ok || user == "" || pass == "" {
			return Server{}, fmt.Errorf("ice server %q: credentials must be user:pass@", redact(item))
		}
		s.Username, s.Credential, rest = user, pass, rest[at+1:]
	} else if turn && !minted {
		return Server{}, fmt.Errorf("ice server %q: a TURN server needs user:pass@ before its host", item)
	}
	host, query, _ := strings.Cut(rest, "?")
	if host == "" || strings.HasPrefix(host, "/") || strings.ContainsAny(host, " \t/") {
		return Server{}, fmt.Errorf("ice server %q: want a host[:port] after the scheme %s", redact(item), scheme)
	}
	if query != "" {
		if !turn || (query != "transport=udp" && query != "transport=tcp") {
			return Server{}, fmt.Errorf("ice server %q: only a TURN server takes ?transport=udp or ?transport=tcp", redact(item))
		}
	}
	s.URL = scheme + ":" + rest
	return s, nil
}

// redact hides a password in an error message.
func redact(item string) string {
	at := strings.LastIndex(item, "@")
	if at < 0 {
		return item
	}
	scheme, rest, _ := strings.Cut(item[:at], ":")
	user, _, _ := strings.Cut(rest, ":")
	return scheme + ":" + user + ":…@" + item[at+1:]
}
