package edge

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// offer is what the edge needs from an SDP offer: whether it can be
// answered with G.711 at all.
type offer struct {
	pcmu, pcma, events bool
}

var errNoAudio = errors.New("sdp: no audio stream")

// parseOffer checks an INVITE's SDP body. A body that is not SDP is an
// error (400); an SDP without PCMU or PCMA gives an offer with neither
// (488). An empty body is a late offer: answered with ours.
func parseOffer(body []byte) (offer, error) {
	if len(body) == 0 {
		return offer{pcmu: true, pcma: true, events: true}, nil
	}
	var o offer
	s := string(body)
	if !strings.HasPrefix(s, "v=") {
		return o, errors.New("sdp: does not start with v=")
	}
	audio := false
	inAudio := false
	for i, line := range strings.Split(strings.ReplaceAll(s, "\r\n", "\n"), "\n") {
		line = strings.TrimRight(line, "\r")
		if line == "" {
			continue
		}
		if len(line) < 2 || line[1] != '=' {
			return o, fmt.Errorf("sdp: line %d is not type=value", i+1)
		}
		switch {
		case strings.HasPrefix(line, "m="):
			f := strings.Fields(line[2:])
			if len(f) < 4 {
				return o, fmt.Errorf("sdp: line %d: short m= line", i+1)
			}
			if _, err := strconv.ParseUint(strings.SplitN(f[1], "/", 2)[0], 10, 16); err != nil {
				return o, fmt.Errorf("sdp: line %d: bad port", i+1)
			}
			inAudio = f[0] == "audio"
			if !inAudio {
				continue
			}
			audio = true
			for _, pt := range f[3:] {
				switch pt {
				case "0":
					o.pcmu = true
				case "8":
					o.pcma = true
				}
			}
		case inAudio && strings.HasPrefix(line, "a=rtpmap:"):
			f := strings.Fields(line[len("a=rtpmap:"):])
			if len(f) < 2 {
				return o, fmt.Errorf("sdp: line %d: bad rtpmap", i+1)
			}
			switch strings.ToLower(strings.SplitN(f[1], "/", 2)[0]) {
			case "pcmu":
				o.pcmu = true
			case "pcma":
				o.pcma = true
			case "telephone-event":
				o.events = true
			}
		}
	}
	if !audio {
		return o, errNoAudio
	}
	return o, nil
}

// usable says whether the offer has a codec the edge speaks.
func (o offer) usable() bool { return o.pcmu || o.pcma }

// dtmfInfo reads the digit of a SIP INFO body of type
// application/dtmf-relay ("Signal=5\r\nDuration=160") or
// application/dtmf ("5").
func dtmfInfo(contentType string, body []byte) (string, error) {
	s := strings.TrimSpace(string(body))
	if strings.EqualFold(contentType, "application/dtmf") {
		return dtmfDigit(s)
	}
	for _, line := range strings.Split(s, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), "=")
		if ok && strings.EqualFold(strings.TrimSpace(k), "signal") {
			return dtmfDigit(strings.TrimSpace(v))
		}
	}
	return "", errors.New("dtmf: no Signal= line")
}

func dtmfDigit(s string) (string, error) {
	switch {
	case len(s) == 1 && strings.Contains("0123456789*#ABCD", strings.ToUpper(s)):
		return strings.ToUpper(s), nil
	case s == "10":
		return "*", nil
	case s == "11":
		return "#", nil
	}
	return "", fmt.Errorf("dtmf: %q is not a key", s)
}
