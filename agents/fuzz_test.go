package agents

import (
	"encoding/json"
	"testing"
)

// contractCodes are the codes a decoder may refuse a frame with.
var decoderCodes = map[string]bool{CodeValidation: true}

// checkDecoded is the property every decoder keeps: a frame is either a
// valid command or refused with a contract code and a message, and a ref
// it hands back is always a JSON string or number.
func checkDecoded(t *testing.T, data []byte, ref json.RawMessage, ferr *frameError, valid func() *frameError) {
	t.Helper()
	if ref != nil && !validRef(ref) {
		t.Fatalf("decode(%q) returned ref %s, not a string or number", data, ref)
	}
	if ferr != nil {
		if !decoderCodes[ferr.Code] || ferr.Message == "" {
			t.Fatalf("decode(%q) = %+v; want a contract code and a message", data, ferr)
		}
		return
	}
	if err := valid(); err != nil {
		t.Fatalf("decode(%q) accepted a command that does not validate: %v", data, err)
	}
}

func addSeeds(f *testing.F, seeds ...string) {
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	for _, s := range []string{``, `null`, `{}`, `[]`, `"x"`, `{"type":null}`, `{"type":1}`, `{"id":[],"type":"x"}`,
		`{"type":"say","text":"\ud800"}`, "{\"type\":\"say\",\"text\":\"\xff\"}", `{"type":"say"}{"type":"say"}`} {
		f.Add([]byte(s))
	}
}

func FuzzAgentFrame(f *testing.F) {
	addSeeds(f,
		`{"id":"1","type":"state","state":"available","reason":"back"}`,
		`{"id":2,"type":"accept","offer_id":"of1"}`,
		`{"type":"decline","offer_id":"of1","reason":"busy"}`,
		`{"type":"say","contact_id":"ct1","text":"안녕하세요"}`,
		`{"type":"note","case_id":"cs1","text":"n"}`,
		`{"type":"transfer","contact_id":"ct1","to":{"queue":"tax.general"},"mode":"cold","note":"n"}`,
		`{"type":"transfer","contact_id":"ct1","to":{"agent":"park"},"mode":"warm"}`,
		`{"type":"transfer","contact_id":"ct1","to":null,"mode":"warm"}`,
		`{"type":"end","contact_id":"ct1","disposition":"resolved","summary":"s"}`,
		`{"type":"accept","OFFER_ID":"x"}`,
		`{"type":"accept","offer_id":"x","offer_id":"y"}`,
		`{"type":"transfer","contact_id":"ct1","to":{"Queue":"tax.general"},"mode":"cold"}`,
		"{\"type\":\"say\",\"contact_id\":\"ct1\",\"text\":\"\xff\"}",
		`{"type":"say","contact_id":"ct1","text":"\udc00"}`,
		`{"type":"end","contact_id":"ct1","summary":"s","callback":{"queue":"tax.general","number":"0212345678","note":"n"}}`,
		`{"type":"end","contact_id":"ct1","callback":{"queue":"tax.general","number":"x"}}`,
		`{"type":"end","contact_id":"ct1","callback":{"queue":"","extra":1}}`,
		`{"type":"end","contact_id":"ct1","callback":null}`,
		`{"id":"3","type":"interpret","contact_id":"ct1","language":"vi","note":"n"}`,
		`{"type":"interpret","contact_id":"ct1","language":"zh-Hant"}`,
		`{"type":"interpret","contact_id":"ct1","language":"v i"}`,
		`{"type":"interpreter_release","contact_id":"ct1"}`,
		`{"type":"callback_result","contact_id":"ct1","result":"no_answer"}`,
		`{"type":"callback_result","contact_id":"ct1","result":"maybe"}`,
	)
	f.Fuzz(func(t *testing.T, data []byte) {
		cmd, ref, ferr := decodeAgentFrame(data)
		checkDecoded(t, data, ref, ferr, func() *frameError {
			if cmd.Type == "transfer" && cmd.To == nil {
				return invalidf("to", "nil target accepted")
			}
			return cmd.validate()
		})
	})
}

func FuzzCitizenFrame(f *testing.F) {
	addSeeds(f, `{"id":"1","type":"say","text":"hello"}`, `{"type":"leave"}`, `{"type":"leave","text":"x"}`)
	f.Fuzz(func(t *testing.T, data []byte) {
		cmd, ref, ferr := decodeCitizenFrame(data)
		checkDecoded(t, data, ref, ferr, cmd.validate)
	})
}

func FuzzGatewayFrame(f *testing.F) {
	addSeeds(f,
		`{"id":"1","type":"transcript","contact_id":"ct1","speaker":"citizen","text":"hello"}`,
		`{"type":"hangup","contact_id":"ct1"}`,
		`{"type":"transcript","contact_id":"ct1","speaker":"robot","text":"x"}`,
		`{"type":"transcript","contact_id":"ct1","speaker":"interpreter","text":"x"}`,
		`{"id":"2","type":"dial_result","contact_id":"ct1","result":"busy"}`,
		`{"type":"dial_result","contact_id":"ct1","result":""}`,
		`{"id":"3","type":"connect_failed","contact_id":"ct1","result":"no_answer"}`,
		`{"type":"connect_failed","contact_id":"ct1","result":"answered"}`,
		`{"type":"connect_failed","contact_id":"ct1"}`,
		`{"id":"4","type":"agent_hangup","contact_id":"ct1"}`,
		`{"type":"agent_hangup","contact_id":"ct1","result":"busy"}`,
		`{"id":"5","type":"recording","contact_id":"ct1","file":"rec/ct1.wav","seconds":95,"started_at":"2026-03-02T09:00:00+09:00"}`,
		`{"type":"recording","contact_id":"ct1","file":"a\u0000b","seconds":1,"started_at":"2026-03-02T09:00:00Z"}`,
		`{"type":"recording","contact_id":"ct1","file":"f","seconds":1.5,"started_at":"2026-03-02T09:00:00Z"}`,
		`{"type":"recording","contact_id":"ct1","file":"f","seconds":86401,"started_at":"2026-03-02T09:00:00Z"}`,
		`{"type":"recording","contact_id":"ct1","file":"f","seconds":1,"started_at":"yesterday"}`,
		`{"type":"recording","contact_id":"ct1","file":"f","started_at":"2026-03-02T09:00:00Z"}`,
	)
	f.Fuzz(func(t *testing.T, data []byte) {
		cmd, ref, ferr := decodeGatewayFrame(data)
		checkDecoded(t, data, ref, ferr, cmd.validate)
	})
}
