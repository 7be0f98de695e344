package uitest

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// setValue replaces a control's value.
func (p *page) setValue(sel, value string) {
	p.b.t.Helper()
	p.do("set "+sel, chromedp.Evaluate[chromedp.Void](`document.querySelector(`+jsString(sel)+`).value = `+jsString(value)))
}

// An admin creates a queue with a field the API refuses and sees the
// API's message beside that field, then corrects it and the queue is made.
func TestAdminQueueValidation(t *testing.T) {
	b := newBrowser(t)
	admin := b.page("admin")
	admin.loginAs("admin", adminPassword)
	admin.navigate("/admin#queues")
	admin.waitText("queues of the first agency", "#queue-rows", "gov110.general")

	admin.click("#queue-new")
	admin.waitFor("form open", `!document.querySelector("#queue-form").hidden`)
	admin.typeInto("#q-id", "walk-in")
	admin.typeInto("#q-name", "방문 예약 상담")
	admin.setValue("#q-offer", "200")
	admin.click(`#queue-form button[type=submit]`)

	const errBox = `[data-error-for="offer_timeout_s"]`
	admin.waitFor("error beside the field", `!document.querySelector(`+jsString(errBox)+`).hidden`)
	if msg := admin.text(errBox); !strings.Contains(msg, "between 5 and 120") {
		t.Errorf("message beside offer_timeout_s = %q; want the API's range message", msg)
	}
	if got := eval[string](admin, `document.querySelector("#q-offer").getAttribute("aria-invalid") || ""`); got != "true" {
		t.Errorf("offer_timeout_s aria-invalid = %q; want true", got)
	}
	if got := eval[string](admin, `document.activeElement.id`); got != "q-offer" {
		t.Errorf("focus after the error is on %q; want the field at fault", got)
	}
	if msgs := eval[int](admin, `[...document.querySelectorAll("#queue-form [data-error-for]")].filter(e => !e.hidden).length`); msgs != 1 {
		t.Errorf("%d error messages shown; want only the one beside the field", msgs)
	}
	admin.shot("admin-queue-error-ko")

	admin.setValue("#q-offer", "30")
	admin.click(`#queue-form button[type=submit]`)
	admin.waitFor("form closed", `document.querySelector("#queue-form").hidden`)
	admin.waitText("new queue listed", "#queue-rows", "gov110.walk-in")
	admin.waitText("saved notice", "#page-ok", "방문 예약 상담")
	admin.noRawKeys()

	// The queue is there with what was asked.
	var q struct {
		OfferTimeoutS int      `json:"offer_timeout_s"`
		Channels      []string `json:"channels"`
	}
	if code := login(t, "admin", adminPassword).call("GET", "/v1/queues/gov110.walk-in", nil, &q); code != 200 || q.OfferTimeoutS != 30 {
		t.Errorf("GET the new queue = %d, offer_timeout_s %d; want 200, 30", code, q.OfferTimeoutS)
	}
}

// An admin gives a new agent a phone: a malformed SIP address is refused
// beside its field, a good one is stored; and, ticked in the same form,
// the export permission.
func TestAdminUserSIPURI(t *testing.T) {
	b := newBrowser(t)
	admin := b.page("admin")
	admin.loginAs("admin", adminPassword)
	admin.navigate("/admin#users")
	admin.click("#user-new")
	admin.waitFor("form open", `!document.querySelector("#user-form").hidden`)
	admin.typeInto("#u-username", "phone.agent")
	admin.typeInto("#u-name", "전화 상담원")
	admin.typeInto("#u-password", "phone-agent-password")
	admin.setValue("#u-queues", "gov110.general=3")
	admin.typeInto("#u-sip", "tel:+8221234567")
	admin.click(`#user-form button[type=submit]`)

	const errBox = `[data-error-for="sip_uri"]`
	admin.waitFor("error beside the field", `!document.querySelector(`+jsString(errBox)+`).hidden`)
	if msg := admin.text(errBox); !strings.Contains(msg, "SIP") {
		t.Errorf("message beside sip_uri = %q; want the API's message", msg)
	}
	if got := eval[string](admin, `document.activeElement.id`); got != "u-sip" {
		t.Errorf("focus after the error is on %q; want the field at fault", got)
	}

	admin.setValue("#u-sip", "sip:phone.agent@pbx.gov110.go.kr")
	if label := admin.text("#u-export-field"); !strings.Contains(label, "내려받기") {
		t.Errorf("the export permission's box is labelled %q; want it to say 내려받기", label)
	}
	admin.click("#u-export")
	admin.click(`#user-form button[type=submit]`)
	admin.waitFor("form closed", `document.querySelector("#user-form").hidden`)
	var u struct {
		SIPURI string `json:"sip_uri"`
		Export bool   `json:"export"`
	}
	if code := login(t, "admin", adminPassword).call("GET", "/v1/users/phone.agent", nil, &u); code != 200 || u.SIPURI != "sip:phone.agent@pbx.gov110.go.kr" || !u.Export {
		t.Errorf("GET the new user = %d, sip_uri %q, export %v; want the address and export", code, u.SIPURI, u.Export)
	}
}
