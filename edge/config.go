// Package edge is the SIP edge of tellonce (`tellonce edge`): it answers
// phone calls over SIP, walks callers through the dial plan's menus, puts
// them in line through the router's REST API, keeps them company with
// their place and hold audio, rings agents' phones when the router says
// connect and bridges the audio, and dials callbacks through a trunk. To
// the router it is a gateway client: the REST API to create contacts and
// the gateway WebSocket for everything after.
package edge

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"tellonce/dialplan"
	"tellonce/iceservers"
	"tellonce/recordings"
)

// Config is everything the edge needs from its flags.
type Config struct {
	// UDP and TCP are SIP listen addresses (host:port); either may be
	// empty, not both. TLS is one more, used only with TLSCert and TLSKey.
	UDP, TCP, TLS   string
	TLSCert, TLSKey string
	// ExternalHost is the address put in Contact and SDP when the edge is
	// behind NAT; empty uses the listen address.
	ExternalHost string

	// Router is the router's base URL (http://host:port/).
	Router *url.URL
	// Token, or Username and Password, are the gateway account's
	// credentials.
	Token, Username, Password string

	Plan *dialplan.Plan
	// AnnounceEvery is how often a waiting caller hears their place.
	AnnounceEvery time.Duration
	// MaxCalls is how many calls the edge carries at once; more are
	// answered 503 with Retry-After.
	MaxCalls int
	// RingTimeout is how long an agent's phone rings before the offer
	// counts as missed (connect_failed no_answer).
	RingTimeout time.Duration
	// TransferGrace is how long, after a transfer, the first agent stays
	// on the line waiting for the next leg's connect (a warm transfer's
	// comes at once) before their phone is hung up (a cold transfer).
	TransferGrace time.Duration
	// TrunkAllow lists the networks whose INVITEs are accepted; empty
	// accepts any.
	TrunkAllow []netip.Prefix
	// Trunk is the outbound trunk's SIP URI (sip:host:port); callbacks are
	// dialled as sip:<number>@host:port. Empty: callbacks fail.
	Trunk string
	// TrunkUsername and TrunkPassword answer the trunk's digest challenge.
	TrunkUsername, TrunkPassword string
	// Phones are the agents' phones that may REGISTER: username → HA1
	// (LoadPhones).
	Phones map[string]string
	// Recordings, when set, records every answered leg (caller and agent).
	Recordings *recordings.Store

	// The browser softphone. ICEServers are the STUN/TURN servers of its
	// peer connections; SoftphoneGrace is how long a browser leg whose
	// peer went away waits for a new one (rtc_restart) before the agent's
	// leg ends (agent_hangup); the caller hears hold audio meanwhile.
	ICEServers     []iceservers.Server
	SoftphoneGrace time.Duration
	// TURN, when set, mints the edge's short-lived credentials (named
	// after Username, the gateway account) for the TURN servers of
	// ICEServers, fresh for each peer connection.
	TURN *iceservers.Minter
	// RTCPorts are the peer connections' UDP ports: "" any ephemeral
	// port, "PORT" one port for every peer, "LOW-HIGH" a range.
	RTCPorts string
	// RTCIP, when set, is the one local address the peers gather host
	// candidates on; NAT1To1IPs are the public addresses put in the
	// candidates instead (the edge behind 1:1 NAT).
	RTCIP      string
	NAT1To1IPs []string
}

// Validate reports the first unusable setting, naming its flag.
func (c *Config) Validate() error {
	if c.UDP == "" && c.TCP == "" && c.TLS == "" {
		return errors.New("--sip-udp, --sip-tcp or --sip-tls: at least one listen address is needed")
	}
	if (c.TLS != "") != (c.TLSCert != "" && c.TLSKey != "") {
		return errors.New("--sip-tls needs --tls-cert and --tls-key, and they need it")
	}
	if c.Router == nil || (c.Router.Scheme != "http" && c.Router.Scheme != "https") || c.Router.Host == "" {
		return errors.New("--router: an http:// or https:// URL of the tellonce server is needed")
	}
	if c.Token == "" && (c.Username == "" || c.Password == "") {
		return errors.New("--gateway-user with TELLONCE_GATEWAY_PASSWORD, or TELLONCE_GATEWAY_TOKEN: the gateway account's credentials are needed")
	}
	if c.Plan == nil {
		return errors.New("--dialplan: a dial plan is needed")
	}
	if c.AnnounceEvery < 5*time.Second {
		return errors.New("--announce-every: at least 5s")
	}
	if c.MaxCalls < 1 {
		return errors.New("--max-calls: at least 1")
	}
	if c.RingTimeout < time.Second {
		return errors.New("--ring-timeout: at least 1s")
	}
	if c.SoftphoneGrace != 0 && (c.SoftphoneGrace < time.Second || c.SoftphoneGrace > 10*time.Minute) {
		return errors.New("--softphone-grace: 1s to 10m")
	}
	if c.RTCPorts != "" {
		if _, _, err := parsePorts(c.RTCPorts); err != nil {
			return err
		}
	}
	if c.RTCIP != "" && net.ParseIP(c.RTCIP) == nil {
		return fmt.Errorf("--webrtc-ip: %q is not an IP address", c.RTCIP)
	}
	for _, ip := range c.NAT1To1IPs {
		if net.ParseIP(ip) == nil {
			return fmt.Errorf("--webrtc-public-ip: %q is not an IP address", ip)
		}
	}
	if c.Trunk != "" && !strings.HasPrefix(c.Trunk, "sip:") && !strings.HasPrefix(c.Trunk, "sips:") {
		return fmt.Errorf("--trunk: %q is not a sip: URI", c.Trunk)
	}
	return nil
}

// ParseAllowList reads a comma-separated list of addresses and networks
// (203.0.113.7, 198.51.100.0/24).
func ParseAllowList(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		if p, err := netip.ParsePrefix(part); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(part)
		if err != nil {
			return nil, fmt.Errorf("--trunk-allow: %q is neither an address nor a network", part)
		}
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

func (c *Config) allowed(addr string) bool {
	if len(c.TrunkAllow) == 0 {
		return true
	}
	ap, err := netip.ParseAddrPort(addr)
	if err != nil {
		return false
	}
	for _, p := range c.TrunkAllow {
		if p.Contains(ap.Addr().Unmap()) {
			return true
		}
	}
	return false
}
