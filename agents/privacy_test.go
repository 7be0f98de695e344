package agents

import (
	"encoding/json"
	"strings"
	"testing"

	"tellonce/router"
)

// What a citizen said, as it reaches the router: a phone number as digits
// and as speech-to-text words, a card, a registration number (masked on
// entry already), in the caller's id and name, the context and its
// attribute keys and values.
var (
	piiCaller  = router.Caller{ID: "010-1234-5678", Name: "홍길동 010 1234 5678"}
	piiContext = router.ContactContext{
		Summary: "카드 4111-1111-1111-1111 분실, 연락처 공일공 일이삼사 오육칠팔",
		IVR:     []string{"1", "010.1234.5678"},
		Attributes: map[string]string{"010-1234-5678": "callback", "card": "4111 1111 1111 1111",
			"rrn": "900101 - 1234567"},
	}
	// inClear are pieces only a clear number holds; masked are the forms
	// an agent without pii sees instead.
	inClear = []string{"1234-5678", "1234 5678", "1234.5678", "일이삼사", "4111-1111", "4111 1111", "1234567"}
	masked  = []string{"010-****-5678", "**** **** **** 1111", "공일공 ＊＊＊＊ 오육칠팔", "900101 - 1******"}
)

// clearIn returns the first clear piece of a personal number in f.
func clearIn(t *testing.T, f frame) string {
	t.Helper()
	b, err := json.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range inClear {
		if strings.Contains(string(b), s) {
			return s
		}
	}
	return ""
}

func mustBeMasked(t *testing.T, who string, f frame) {
	t.Helper()
	if s := clearIn(t, f); s != "" {
		b, _ := json.Marshal(f)
		t.Errorf("%s's %s frame shows %q in clear: %s", who, f.str("type"), s, b)
	}
}

// An agent without the pii permission sees phone, card and registration
// numbers masked in every frame that carries citizen text — the offer
// (with the case's history and transfer note), assigned, hello (contacts
// and offers), message, transcript and note — and so does an agent of
// another agency the case is transferred to.
func TestAgentSocketMasksPersonalNumbers(t *testing.T) {
	e := newEnv(t)
	cv := e.enqueue(router.EnqueueRequest{Caller: piiCaller, Context: piiContext})
	cit := e.dial("/citizen/" + cv.ID)
	cit.expectNext("queued")
	kim := e.available("kim")
	offer := kim.expect("offer")
	mustBeMasked(t, "kim", offer)
	b, _ := json.Marshal(offer)
	for _, s := range masked {
		if !strings.Contains(string(b), s) {
			t.Errorf("kim's offer lacks %q: %s", s, b)
		}
	}
	if k := offer.obj("contact").obj("context").obj("attributes"); k["010-****-5678"] != "callback" {
		t.Errorf("offer attributes %v; want the key masked", k)
	}
	if id := offer.obj("contact").obj("caller").str("id"); id != "010-****-5678" {
		t.Errorf("offer caller id %q; want it masked, still telling callers apart", id)
	}
	kim.ok(map[string]any{"type": "accept", "offer_id": offer.str("offer_id")})
	mustBeMasked(t, "kim", kim.expect("assigned"))
	cit.expect("agent_joined")

	cit.ok(map[string]any{"type": "say", "text": "제 번호는 010 1234 5678이에요"})
	mustBeMasked(t, "kim", kim.expect("message"))
	if _, err := e.r.Transcript(cv.ID, router.RoleCitizen, "공일공 일이삼사 오육칠팔 카드는 4111 1111 1111 1111"); err != nil {
		t.Fatal(err)
	}
	mustBeMasked(t, "kim", kim.expect("transcript"))
	kim.ok(map[string]any{"type": "note", "case_id": cv.CaseID, "text": "called back on 010-1234-5678"})
	mustBeMasked(t, "kim", kim.expect("note"))

	// A new console gets the desk back in hello, masked.
	kim, hello := e.agent("kim")
	if len(hello.list("contacts")) != 1 {
		t.Fatalf("hello = %v; want kim's contact", hello)
	}
	mustBeMasked(t, "kim", hello)

	// Transferred to another agency: its agent reads the case masked too,
	// the transfer note included, in the offer and in hello.
	park := e.available("park")
	kim.ok(map[string]any{"type": "transfer", "contact_id": cv.ID, "to": map[string]any{"queue": "tax.general"},
		"mode": "cold", "note": "card 4111-1111-1111-1111, phone 010-1234-5678"})
	offer = park.expect("offer")
	mustBeMasked(t, "park", offer)
	if n := offer.obj("case").obj("transfer_note").str("text"); n != "card ****-****-****-1111, phone 010-****-5678" {
		t.Errorf("park's transfer note %q; want it masked", n)
	}
	_, hello = e.agent("park")
	if len(hello.list("offers")) != 1 {
		t.Fatalf("hello = %v; want park's pending offer", hello)
	}
	mustBeMasked(t, "park", hello)
}

// An agent with the pii permission sees phone and card numbers as said;
// registration numbers stay masked for everyone.
func TestAgentSocketShowsNumbersWithPII(t *testing.T) {
	e := newEnv(t)
	cv := e.enqueue(router.EnqueueRequest{Caller: piiCaller, Context: piiContext})
	kim := e.dial("/agent/kim?pii=1")
	kim.expectNext("hello")
	kim.ok(map[string]any{"type": "state", "state": "available"})
	offer := kim.expect("offer")
	b, _ := json.Marshal(offer)
	for _, s := range []string{"010-1234-5678", "4111-1111-1111-1111", "공일공 일이삼사 오육칠팔", "900101 - 1******"} {
		if !strings.Contains(string(b), s) {
			t.Errorf("the pii agent's offer lacks %q: %s", s, b)
		}
	}
	if strings.Contains(string(b), "1234567") {
		t.Errorf("the pii agent's offer shows the registration number: %s", b)
	}
	kim.ok(map[string]any{"type": "accept", "offer_id": offer.str("offer_id")})
	kim.expect("assigned")
	if _, err := e.r.Say(router.AsCitizen(), cv.ID, "010-1234-5678"); err != nil {
		t.Fatal(err)
	}
	if m := kim.expect("message"); m.str("text") != "010-1234-5678" {
		t.Errorf("the pii agent's message %q; want the number as said", m.str("text"))
	}
}
