package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// The end-to-end journeys: a real server on loopback (the whole wiring of
// serve: directory, journal with group commit, router, web), driven the
// way consoles, chat widgets and the telephony gateway drive it, over real
// HTTP and WebSockets. Each runs on SQLite and on PostgreSQL.

// TestChatJourneyAcrossTwoAgencies follows one citizen from the chat widget
// through an agent of 110 and a cold transfer to 1339: the citizen tells
// their story once, the receiving agent reads it all first, notes stay
// internal, and the case's readers are exactly the agencies it touched.
func TestChatJourneyAcrossTwoAgencies(t *testing.T) {
	eachBackend(t, func(t *testing.T, backend string) {
		s := startServer(t, backend)
		db := openDB(t, s.dsn)
		const (
			summary      = "여권 재발급 문의"
			citizenWords = "여권을 잃어버렸는데 해외 출국이 다음 주입니다. 예방접종 증명도 필요해요."
			answerA      = "여권 재발급은 구청에서 가능합니다. 예방접종 증명은 질병관리청으로 연결해 드릴게요."
			noteA        = "내부 메모: 출국 임박, 여권 재발급 안내 완료"
			transferNote = "예방접종 증명서 발급 문의, 출국 다음 주 — 여권 건은 안내 완료"
			answerB      = "예방접종 증명서는 정부24에서 바로 발급됩니다."
			citizenThx   = "감사합니다!"
			summaryB     = "예방접종 증명서 정부24 발급 안내"
		)

		// The citizen opens a chat: queued, first in line.
		agentA, _ := s.agentDesk(t, "kim.minji", "tellonce-demo")
		c := s.createChat(t, "gov110.general", "journey-citizen", summary)
		if c.Status != "queued" || c.Position != 1 {
			t.Fatalf("new contact = %+v; want queued at position 1", c)
		}
		citizen := s.citizen(t, c)
		if q := citizen.await(t, "queued"); q.str("position") != "1" {
			t.Errorf("citizen's first frame %s; want position 1", q)
		}

		// Agent A goes available and is offered the contact with its case.
		agentA.ack(t, obj{"type": "state", "state": "available"})
		offer := agentA.await(t, "offer")
		if offer.str("contact", "contact_id") != c.ContactID || offer.str("case", "case_id") != c.CaseID {
			t.Fatalf("offer %s; want contact %s of case %s", offer, c.ContactID, c.CaseID)
		}
		if offer.str("contact", "context", "summary") != summary || offer.str("offer_id") == "" || offer.str("expires_at") == "" {
			t.Errorf("offer %s; want the context summary, an offer id and expires_at", offer)
		}
		var offered caseDoc
		if err := offer.decode(&offered, "case"); err != nil {
			t.Fatal(err)
		}
		if _, ok := offered.find("contact_created", summary, "contact_id", c.ContactID); !ok || offered.Legs[0].Queue != "gov110.general" {
			t.Errorf("offer's case:%s; want the contact's creation in gov110.general", offered.describe())
		}
		agentA.ack(t, obj{"type": "accept", "offer_id": offer.str("offer_id")})
		// The ack promises durability: the assignment is in the store now.
		if stored, err := storedCase(context.Background(), db, c.CaseID); err != nil {
			t.Fatal(err)
		} else if _, ok := stored.find("assigned", "", "contact_id", c.ContactID); !ok {
			t.Fatalf("accept was acknowledged but the store has no assignment:%s", stored.describe())
		}
		agentA.await(t, "assigned")
		if j := citizen.await(t, "agent_joined"); j.str("agent_name") != "김민지" || j.str("agency") != "gov110" {
			t.Errorf("agent_joined %s; want 김민지 of gov110", j)
		}

		// Messages both ways, and an internal note.
		citizen.ack(t, obj{"type": "say", "text": citizenWords})
		if m := agentA.awaitFunc(t, "the citizen's message", typed("message", "from", "citizen")); m.str("text") != citizenWords || m.str("contact_id") != c.ContactID {
			t.Errorf("agent A got %s; want the citizen's words on %s", m, c.ContactID)
		}
		agentA.ack(t, obj{"type": "say", "contact_id": c.ContactID, "text": answerA})
		if m := citizen.awaitFunc(t, "agent A's answer", typed("message", "from", "agent")); m.str("text") != answerA || m.str("agent_name") != "김민지" {
			t.Errorf("citizen got %s; want A's answer signed 김민지", m)
		}
		agentA.ack(t, obj{"type": "note", "case_id": c.CaseID, "text": noteA})
		if n := agentA.await(t, "note"); n.str("text") != noteA || n.str("agent") != "kim.minji" {
			t.Errorf("note frame %s; want A's note", n)
		}

		// A cold transfer to another agency's queue, with a note.
		agentA.ack(t, obj{"type": "transfer", "contact_id": c.ContactID, "to": obj{"queue": "kdca1339.vaccination"},
			"mode": "cold", "note": transferNote})
		agentA.awaitFunc(t, "contact_ended transferred", typed("contact_ended", "contact_id", c.ContactID, "reason", "transferred"))
		if tr := citizen.await(t, "transferred"); tr.str("agency") != "kdca1339" || tr.str("queue_name") != "예방접종 상담" {
			t.Errorf("transferred %s; want kdca1339's 예방접종 상담", tr)
		}

		// Agent B of the other agency gets the whole case, the transfer first.
		agentB := s.availableAgent(t, "choi.yuna")
		offerB := agentB.await(t, "offer")
		var cs caseDoc
		if err := offerB.decode(&cs, "case"); err != nil {
			t.Fatal(err)
		}
		legB := offerB.str("contact", "contact_id")
		if cs.CaseID != c.CaseID || legB == c.ContactID || offerB.str("contact", "queue") != "kdca1339.vaccination" {
			t.Fatalf("B's offer %s; want a new leg of case %s in kdca1339.vaccination", offerB, c.CaseID)
		}
		if len(cs.Events) == 0 || cs.Events[0].Type != "transfer" || cs.Events[0].Text != transferNote {
			t.Errorf("B's offer does not start with the transfer note:%s", cs.describe())
		}
		if cs.TransferNote == nil || cs.TransferNote.Text != transferNote {
			t.Errorf("B's offer transfer_note = %+v; want %q", cs.TransferNote, transferNote)
		}
		if len(cs.Legs) != 2 || cs.Legs[0].Agency != "gov110" || cs.Legs[0].Agent != "kim.minji" ||
			cs.Legs[0].Disposition != "transferred" || cs.Legs[1].ContactID != legB {
			t.Errorf("B's offer legs:%s; want A's gov110 leg (transferred) then the new one", cs.describe())
		}
		for _, want := range []struct{ typ, text string }{
			{"contact_created", summary}, {"message", citizenWords}, {"message", answerA}, {"note", noteA},
		} {
			if _, ok := cs.find(want.typ, want.text); !ok {
				t.Errorf("B's offer lacks the %s %q:%s", want.typ, want.text, cs.describe())
			}
		}
		if offerB.str("contact", "context", "summary") != summary {
			t.Errorf("B's offer context %v; want the citizen's summary kept", offerB.get("contact", "context"))
		}
		agentB.ack(t, obj{"type": "accept", "offer_id": offerB.str("offer_id")})
		if j := citizen.await(t, "agent_joined"); j.str("agent_name") != "최유나" || j.str("agency") != "kdca1339" {
			t.Errorf("second agent_joined %s; want 최유나 of kdca1339", j)
		}
		agentB.ack(t, obj{"type": "say", "contact_id": legB, "text": answerB})
		citizen.awaitFunc(t, "B's answer", typed("message", "text", answerB))
		citizen.ack(t, obj{"type": "say", "text": citizenThx})
		agentB.awaitFunc(t, "the citizen's thanks", typed("message", "text", citizenThx, "contact_id", legB))

		// The case as the admin sees it while open: both legs, every event.
		var open caseDoc
		s.call(t, "GET", "/v1/cases/"+c.CaseID, s.admin(t), nil, http.StatusOK, &open)
		if len(open.Legs) != 2 || open.Legs[0].Agent != "kim.minji" || open.Legs[1].Agent != "choi.yuna" || open.Legs[1].Agency != "kdca1339" {
			t.Errorf("admin's case legs:%s; want kim.minji's then choi.yuna's", open.describe())
		}
		wantEvents := []struct{ typ, text string }{
			{"contact_created", summary}, {"assigned", ""}, {"message", citizenWords}, {"message", answerA},
			{"note", noteA}, {"transfer", transferNote}, {"message", answerB}, {"message", citizenThx},
		}
		for _, want := range wantEvents {
			if _, ok := open.find(want.typ, want.text); !ok {
				t.Errorf("admin's case lacks the %s %q:%s", want.typ, want.text, open.describe())
			}
		}
		for i := 1; i < len(open.Events); i++ {
			if open.Events[i].Seq <= open.Events[i-1].Seq {
				t.Errorf("case events out of order:%s", open.describe())
				break
			}
		}

		// Agency isolation: the agencies it touched may read it, others not.
		for _, who := range []struct {
			user string
			want int
		}{
			{"sup.kdca1339", http.StatusOK}, {"sup.gov110", http.StatusOK}, {"sup.nts126", http.StatusNotFound},
			{"kim.minji", http.StatusOK}, {"jung.hyunwoo", http.StatusNotFound},
		} {
			status, body, err := s.request("GET", "/v1/cases/"+c.CaseID, s.loginDemo(t, who.user), nil)
			if err != nil || status != who.want {
				t.Errorf("GET /v1/cases as %s = %d %s %v; want %d", who.user, status, body, err, who.want)
			}
		}

		// B ends with a disposition and a summary; the citizen is told.
		agentB.ack(t, obj{"type": "end", "contact_id": legB, "disposition": "resolved", "summary": summaryB})
		agentB.awaitFunc(t, "contact_ended resolved", typed("contact_ended", "contact_id", legB, "reason", "resolved"))
		if e := citizen.await(t, "ended"); e.str("reason") != "completed" {
			t.Errorf("citizen's ended %s; want completed", e)
		}
		if code, err := citizen.Ended(waitTime); err != nil || code != 1000 {
			t.Errorf("citizen socket after ended: close %d, %v; want a normal close", code, err)
		}

		// The closed case left the live router; the store keeps all of it.
		stored, err := storedCase(context.Background(), db, c.CaseID)
		if err != nil {
			t.Fatal(err)
		}
		if stored.Status != "closed" || len(stored.Legs) != 2 || stored.Legs[0].Disposition != "transferred" ||
			stored.Legs[1].Disposition != "resolved" || stored.Legs[1].Agent != "choi.yuna" {
			t.Errorf("stored case status %q:%s; want closed with legs transferred and resolved", stored.Status, stored.describe())
		}
		for _, want := range append(wantEvents, struct{ typ, text string }{"ended", summaryB}) {
			if _, ok := stored.find(want.typ, want.text); !ok {
				t.Errorf("stored case lacks the %s %q:%s", want.typ, want.text, stored.describe())
			}
		}

		// Closed, the case is read through transcript review: the whole
		// timeline for the agencies it touched, 403 for the others, and
		// every read (refused ones too) in the access audit.
		var review caseDoc
		s.call(t, "GET", "/v1/transcripts/"+c.CaseID, s.admin(t), nil, http.StatusOK, &review)
		if review.Status != "closed" || len(review.Legs) != 2 || review.Legs[0].Agency != "gov110" || review.Legs[1].Agency != "kdca1339" {
			t.Errorf("reviewed case status %q:%s; want closed with the gov110 and kdca1339 legs", review.Status, review.describe())
		}
		for _, want := range append(wantEvents, struct{ typ, text string }{"ended", summaryB}) {
			if _, ok := review.find(want.typ, want.text); !ok {
				t.Errorf("reviewed case lacks the %s %q:%s", want.typ, want.text, review.describe())
			}
		}
		for _, who := range []struct {
			user string
			want int
		}{{"sup.kdca1339", http.StatusOK}, {"sup.nts126", http.StatusNotFound}} {
			status, body, err := s.request("GET", "/v1/transcripts/"+c.CaseID, s.loginDemo(t, who.user), nil)
			if err != nil || status != who.want {
				t.Errorf("GET /v1/transcripts as %s = %d %s %v; want %d", who.user, status, body, err, who.want)
			}
		}
		var audit struct {
			Items []struct {
				User    string `json:"user"`
				Action  string `json:"action"`
				Outcome string `json:"outcome"`
			} `json:"items"`
		}
		s.call(t, "GET", "/v1/audit?case_id="+c.CaseID, s.admin(t), nil, http.StatusOK, &audit)
		reads := map[string]string{}
		for _, a := range audit.Items {
			if a.Action == "read" {
				reads[a.User] = a.Outcome
			}
		}
		if reads["admin"] != "ok" || reads["sup.kdca1339"] != "ok" || reads["sup.nts126"] != "denied" {
			t.Errorf("audit of the case's reads %v; want admin and sup.kdca1339 ok, sup.nts126 denied", reads)
		}

		// Notes are internal: nothing the citizen received holds them.
		for _, secret := range []string{noteA, transferNote, summaryB} {
			if citizen.Saw(secret) {
				t.Errorf("the citizen received internal text %q", secret)
			}
		}
		for _, f := range citizen.Frames() {
			switch f.Type {
			case "queued", "agent_joined", "message", "transferred", "ended", "ack":
			default:
				t.Errorf("the citizen received a %s frame: %s", f.Type, f)
			}
		}
	})
}

// assignedChat opens a chat in the queue, connects its citizen and has the
// agent (available, with room) accept it.
func assignedChat(t *testing.T, s *testServer, agent *wsClient, queue, callerID, summary string) (contactAnswer, *wsClient) {
	t.Helper()
	c := s.createChat(t, queue, callerID, summary)
	citizen := s.citizen(t, c)
	offer := agent.awaitFunc(t, "offer of "+c.ContactID, typed("offer", "contact.contact_id", c.ContactID))
	agent.ack(t, obj{"type": "accept", "offer_id": offer.str("offer_id")})
	citizen.await(t, "agent_joined")
	return c, citizen
}

// TestWarmTransfer checks both ends of a warm transfer: when the target
// accepts, the first leg ends only then; when the target declines, the
// first agent keeps the contact and hears transfer_failed.
func TestWarmTransfer(t *testing.T) {
	eachBackend(t, func(t *testing.T, backend string) {
		s := startServer(t, backend)
		agentA := s.availableAgent(t, "kim.minji")
		agentB := s.availableAgent(t, "choi.yuna")
		admin := s.admin(t)

		t.Run("accepted", func(t *testing.T) {
			c, citizen := assignedChat(t, s, agentA, "gov110.general", "warm-1", "백신 부작용 상담")
			agentA.ack(t, obj{"type": "transfer", "contact_id": c.ContactID, "to": obj{"queue": "kdca1339.vaccination"},
				"mode": "warm", "note": "부작용 신고 연결"})
			offer := agentB.awaitFunc(t, "the warm offer", typed("offer", "case.case_id", c.CaseID))
			if offer.str("case", "transfer_note", "text") != "부작용 신고 연결" {
				t.Errorf("warm offer %s; want the transfer note", offer)
			}

			// Until B accepts, A holds the contact and the citizen stays.
			var cs caseDoc
			s.call(t, "GET", "/v1/cases/"+c.CaseID, admin, nil, http.StatusOK, &cs)
			if cs.Legs[0].EndedAt != nil || cs.Legs[0].Agent != "kim.minji" {
				t.Errorf("before the accept the first leg ended:%s", cs.describe())
			}
			agentA.ack(t, obj{"type": "say", "contact_id": c.ContactID, "text": "담당자 연결 중입니다"})
			citizen.awaitFunc(t, "A's message while B is being offered", typed("message", "text", "담당자 연결 중입니다"))
			if citizen.Saw(`"transferred"`) {
				t.Errorf("the citizen was told of the transfer before the target accepted")
			}

			agentB.ack(t, obj{"type": "accept", "offer_id": offer.str("offer_id")})
			agentA.awaitFunc(t, "A's leg ending", typed("contact_ended", "contact_id", c.ContactID, "reason", "transferred"))
			citizen.await(t, "transferred")
			if j := citizen.await(t, "agent_joined"); j.str("agency") != "kdca1339" {
				t.Errorf("after the warm transfer agent_joined %s; want kdca1339", j)
			}
			s.call(t, "GET", "/v1/cases/"+c.CaseID, admin, nil, http.StatusOK, &cs)
			if len(cs.Legs) != 2 || cs.Legs[0].EndedAt == nil || cs.Legs[0].Disposition != "transferred" ||
				cs.Legs[1].Agent != "choi.yuna" || cs.Legs[1].EndedAt != nil {
				t.Errorf("after the accept:%s; want A's leg ended as transferred, B's live", cs.describe())
			}
			legB := offer.str("contact", "contact_id")
			citizen.ack(t, obj{"type": "say", "text": "네 말씀하세요"})
			agentB.awaitFunc(t, "the citizen on B's leg", typed("message", "contact_id", legB, "text", "네 말씀하세요"))
		})

		t.Run("declined", func(t *testing.T) {
			c, citizen := assignedChat(t, s, agentA, "gov110.general", "warm-2", "접종 예약 변경")
			agentA.ack(t, obj{"type": "transfer", "contact_id": c.ContactID, "to": obj{"queue": "kdca1339.vaccination"},
				"mode": "warm", "note": "예약 변경 요청"})
			offer := agentB.awaitFunc(t, "the warm offer", typed("offer", "case.case_id", c.CaseID))
			agentB.ack(t, obj{"type": "decline", "offer_id": offer.str("offer_id"), "reason": "busy"})
			agentB.awaitFunc(t, "offer_revoked", typed("offer_revoked", "offer_id", offer.str("offer_id"), "reason", "declined"))
			failed := agentA.awaitFunc(t, "transfer_failed", typed("transfer_failed", "contact_id", c.ContactID))
			if failed.str("reason") == "" {
				t.Errorf("transfer_failed %s; want a reason", failed)
			}

			// A keeps the contact: the conversation goes on, nothing moved.
			agentA.ack(t, obj{"type": "say", "contact_id": c.ContactID, "text": "제가 계속 도와드릴게요"})
			citizen.awaitFunc(t, "A's message after the failed transfer", typed("message", "text", "제가 계속 도와드릴게요"))
			citizen.ack(t, obj{"type": "say", "text": "좋아요"})
			agentA.awaitFunc(t, "the citizen, still with A", typed("message", "contact_id", c.ContactID, "text", "좋아요"))
			if citizen.Saw(`"transferred"`) || agentA.Saw(`"contact_id":"`+c.ContactID+`","reason":"transferred"`) {
				t.Errorf("a declined warm transfer moved the contact")
			}
			var cs caseDoc
			s.call(t, "GET", "/v1/cases/"+c.CaseID, admin, nil, http.StatusOK, &cs)
			if cs.Legs[0].EndedAt != nil || cs.Legs[0].Agent != "kim.minji" {
				t.Errorf("after the decline:%s; want A's leg live", cs.describe())
			}
			if _, ok := cs.find("transfer_failed", ""); !ok {
				t.Errorf("the case does not record the failed transfer:%s", cs.describe())
			}
			// And A can still end it normally.
			agentA.ack(t, obj{"type": "end", "contact_id": c.ContactID, "disposition": "resolved", "summary": "직접 처리"})
			citizen.await(t, "ended")
		})
	})
}

// TestVoiceCallThroughTheGateway drives a phone call: the gateway opens a
// voice contact with what the caller chose in the IVR, the router bridges
// it to the agent who accepts, speech-to-text reaches the agent, and the
// agent's end hangs the call up.
func TestVoiceCallThroughTheGateway(t *testing.T) {
	eachBackend(t, func(t *testing.T, backend string) {
		s := startServer(t, backend)
		gwToken := s.loginDemo(t, "gateway")
		gateway := dial(t, "gateway", s.wsURL("/v1/gateway/ws"), bearerHeader(gwToken))
		agent := s.availableAgent(t, "lee.junho")

		// A citizen cannot open a voice contact: only a gateway can.
		body := obj{"channel": "voice", "queue": "gov110.general",
			"caller":  obj{"id": "+82-10-1234-5678", "name": "전화 민원인", "language": "ko"},
			"context": obj{"summary": "IVR: 민원 > 여권", "ivr": []string{"1 민원 안내", "3 여권"}, "attributes": obj{"ani": "+821012345678"}}}
		if status, b, err := s.request("POST", "/v1/contacts", "", body); err != nil || status != http.StatusUnauthorized {
			t.Errorf("anonymous voice contact = %d %s %v; want 401", status, b, err)
		}
		var c contactAnswer
		s.call(t, "POST", "/v1/contacts", gwToken, body, http.StatusCreated, &c)

		offer := agent.awaitFunc(t, "the call's offer", typed("offer", "contact.contact_id", c.ContactID))
		if offer.str("contact", "channel") != "voice" || len(offer.list("contact", "context", "ivr")) != 2 ||
			offer.str("contact", "context", "attributes", "ani") != "+8210****5678" {
			// The agent has no pii permission: the number reaches them masked.
			t.Errorf("voice offer %s; want the channel, the IVR context and the number masked", offer)
		}
		agent.ack(t, obj{"type": "accept", "offer_id": offer.str("offer_id")})
		if conn := gateway.await(t, "connect"); conn.str("contact_id") != c.ContactID || conn.str("agent") != "lee.junho" {
			t.Errorf("gateway got %s; want connect of %s to lee.junho", conn, c.ContactID)
		}

		segments := []struct{ speaker, text string }{
			{"citizen", "여권 발급 기간이 궁금합니다"}, {"agent", "보통 사 일 정도 걸립니다"}, {"citizen", "감사합니다"},
		}
		for _, seg := range segments {
			gateway.ack(t, obj{"type": "transcript", "contact_id": c.ContactID, "speaker": seg.speaker, "text": seg.text})
		}
		for _, seg := range segments {
			tr := agent.awaitFunc(t, "transcript "+seg.text, typed("transcript", "text", seg.text))
			if tr.str("speaker") != seg.speaker || tr.str("contact_id") != c.ContactID || tr.str("case_id") != c.CaseID {
				t.Errorf("agent got %s; want %s's segment on %s", tr, seg.speaker, c.ContactID)
			}
		}
		// A malformed gateway frame is refused and changes nothing.
		gateway.refused(t, obj{"type": "transcript", "contact_id": c.ContactID, "speaker": "robot", "text": "x"}, "validation")

		var cs caseDoc
		s.call(t, "GET", "/v1/cases/"+c.CaseID, s.admin(t), nil, http.StatusOK, &cs)
		for _, seg := range segments {
			if _, ok := cs.find("transcript", seg.text); !ok {
				t.Errorf("case lacks the transcript %q:%s", seg.text, cs.describe())
			}
		}

		agent.ack(t, obj{"type": "end", "contact_id": c.ContactID, "disposition": "answered", "summary": "여권 발급 기간 안내"})
		if h := gateway.await(t, "hangup"); h.str("contact_id") != c.ContactID {
			t.Errorf("gateway got %s; want hangup of %s", h, c.ContactID)
		}
		agent.awaitFunc(t, "contact_ended", typed("contact_ended", "contact_id", c.ContactID))
	})
}

// TestDuplicateCallerKeepsOnePlace: the same caller trying again (the
// same number through the phone network) is told where their contact
// already is and does not take a second place in line; a chat that types
// that number is a conversation of its own and takes nobody's place.
func TestDuplicateCallerKeepsOnePlace(t *testing.T) {
	eachBackend(t, func(t *testing.T, backend string) {
		s := startServer(t, backend)
		gw := s.loginDemo(t, "gateway")
		call := func() (int, []byte) {
			status, b, err := s.request("POST", "/v1/contacts", gw, obj{"channel": "voice", "queue": "gov110.general",
				"caller": obj{"id": "01077778888", "name": "같은 사람"}, "context": obj{"summary": "전입신고 문의"}})
			if err != nil {
				t.Fatal(err)
			}
			return status, b
		}
		var first contactAnswer
		if status, b := call(); status != http.StatusCreated || json.Unmarshal(b, &first) != nil {
			t.Fatalf("first call = %d %s; want 201", status, b)
		}

		status, b := call()
		var dup struct {
			Error struct {
				Code string `json:"code"`
			} `json:"error"`
			ContactID string `json:"contact_id"`
		}
		if err := json.Unmarshal(b, &dup); err != nil || status != http.StatusConflict ||
			dup.Error.Code != "conflict" || dup.ContactID != first.ContactID {
			t.Fatalf("second attempt = %d %s; want 409 conflict naming %s", status, b, first.ContactID)
		}

		squat := s.createChat(t, "gov110.general", "01077778888", "번호만 아는 사람")
		if squat.ContactID == first.ContactID || squat.CaseID == first.CaseID || squat.Position != 2 {
			t.Errorf("a chat typing the caller's number = %+v; want a place of its own at 2", squat)
		}

		// Once the caller hangs up, they may come back, at the end of the line.
		s.call(t, "DELETE", "/v1/contacts/"+first.ContactID, gw, nil, http.StatusNoContent, nil)
		if st := s.contactStatus(t, squat); st.Position != 1 {
			t.Errorf("after the first caller left the chat is at %d; want 1", st.Position)
		}
		var again contactAnswer
		if status, b := call(); status != http.StatusCreated || json.Unmarshal(b, &again) != nil {
			t.Fatalf("calling again = %d %s; want 201", status, b)
		}
		if again.ContactID == first.ContactID || again.Position != 2 {
			t.Errorf("returning caller = %+v; want a new contact at position 2", again)
		}
	})
}

// TestMalformedFramesOverTheRealServer: garbage on every kind of socket gets
// an error frame (with the ref when the id could be read) and nothing
// else: the connection and its contacts survive, and the next valid frame
// gets its ack.
func TestMalformedFramesOverTheRealServer(t *testing.T) {
	eachBackend(t, func(t *testing.T, backend string) {
		s := startServer(t, backend)
		agent := s.availableAgent(t, "park.seoyeon")
		c, citizen := assignedChat(t, s, agent, "gov110.general", "garbage-citizen", "세금 문의")

		expectError := func(client *wsClient, raw, ref, code, field string) {
			t.Helper()
			if err := client.SendRaw([]byte(raw)); err != nil {
				t.Fatal(err)
			}
			e := client.awaitFunc(t, "error for "+raw, func(f frame) bool {
				return f.Type == "error" && (ref == "" && f.get("ref") == nil || ref != "" && f.str("ref") == ref)
			})
			if e.str("code") != code || (field != "" && e.str("field") != field) || e.str("message") == "" {
				t.Errorf("%s answered %s; want code %s field %q with a message", raw, e, code, field)
			}
		}
		id := c.ContactID
		expectError(agent, `this is not json`, "", "validation", "")
		expectError(agent, `["say"]`, "", "validation", "")
		expectError(agent, `{"type":"say","contact_id":"`+id+`"}`, "", "validation", "text")
		expectError(agent, `{"id":"m1","type":"say","contact_id":"`+id+`"}`, "m1", "validation", "text")
		expectError(agent, `{"id":"m2","type":"dance"}`, "m2", "validation", "type")
		expectError(agent, `{"id":"m3","type":"say","contact_id":"`+id+`","text":"hi","Text":"x"}`, "m3", "validation", "Text")
		expectError(agent, `{"id":"m4","type":"accept","offer_id":42}`, "m4", "validation", "offer_id")
		expectError(agent, `{"id":"m5","type":"say","contact_id":"ct-nope","text":"hi"}`, "m5", "not_found", "")
		expectError(agent, `{"id":"m6","type":"transfer","contact_id":"`+id+`","to":{"queue":"kdca1339.vaccination","agent":"choi.yuna"},"mode":"cold"}`, "m6", "validation", "to")
		expectError(agent, `{"id":{"x":1},"type":"say"}`, "", "validation", "id")
		big := `{"id":"big","type":"say","contact_id":"` + id + `","text":"` + strings.Repeat("가", 30000) + `"}`
		expectError(agent, big, "", "too_large", "")

		expectError(citizen, `{`, "", "validation", "")
		expectError(citizen, `{"id":7,"type":"say"}`, "7", "validation", "text")
		expectError(citizen, `{"id":"c2","type":"say","text":"hi","contact_id":"`+id+`"}`, "c2", "validation", "contact_id")

		// Everything still works: valid frames get their acks, both ways.
		agent.ack(t, obj{"type": "say", "contact_id": id, "text": "아직 연결되어 있습니다"})
		citizen.awaitFunc(t, "the agent's message", typed("message", "text", "아직 연결되어 있습니다"))
		citizen.ack(t, obj{"type": "say", "text": "네 들려요"})
		agent.awaitFunc(t, "the citizen's message", typed("message", "text", "네 들려요"))
		if st := s.contactStatus(t, c); st.Status != "assigned" {
			t.Errorf("after the garbage the contact is %q; want assigned", st.Status)
		}
		var cs caseDoc
		s.call(t, "GET", "/v1/cases/"+c.CaseID, s.admin(t), nil, http.StatusOK, &cs)
		for _, e := range cs.Events {
			if e.Type == "message" && e.Text != "아직 연결되어 있습니다" && e.Text != "네 들려요" {
				t.Errorf("a refused frame left a message in the case:%s", cs.describe())
			}
		}
	})
}

// TestCitizenConnectingDuringTheAcceptHearsOnce: a citizen whose chat
// socket opens while the agent's accept is being made durable (the widget
// connects right after POST, the agent answers at once) is told
// agent_joined exactly once: on connect, from the live state, and not
// again when the accept's event is delivered.
func TestCitizenConnectingDuringTheAcceptHearsOnce(t *testing.T) {
	eachBackend(t, func(t *testing.T, backend string) {
		s := startServer(t, backend)
		agent := s.availableAgent(t, "kim.minji")
		for i := range 3 { // the demo agent's max_chats
			c := s.createChat(t, "gov110.general", fmt.Sprintf("hurried-%d", i), "급한 문의")
			offer := agent.awaitFunc(t, "offer", typed("offer", "contact.contact_id", c.ContactID))
			// The accept goes out without waiting; the citizen connects
			// while it is on its way to the store.
			if err := agent.SendRaw([]byte(`{"type":"accept","id":"hurried","offer_id":"` + offer.str("offer_id") + `"}`)); err != nil {
				t.Fatal(err)
			}
			citizen := s.citizen(t, c)
			citizen.await(t, "agent_joined")
			agent.awaitFunc(t, "the accept's ack", typed("ack", "ref", "hurried"))
			// The agent's message follows every frame of the accept.
			text := fmt.Sprintf("안녕하세요 %d", i)
			agent.ack(t, obj{"type": "say", "contact_id": c.ContactID, "text": text})
			citizen.awaitFunc(t, "the agent's first words", typed("message", "text", text))
			joined := 0
			for _, f := range citizen.Frames() {
				if f.Type == "agent_joined" {
					joined++
				}
			}
			if joined != 1 {
				t.Errorf("contact %d: the citizen heard agent_joined %d times; want once", i, joined)
			}
		}
	})
}

// TestCitizenTypingDuringATransfer: a citizen who types while their chat
// is being transferred (the transfer is made, its event is still on its way
// to their socket) has the message taken on the case's live leg, never
// refused, so it travels with the case to the receiving agent.
func TestCitizenTypingDuringATransfer(t *testing.T) {
	eachBackend(t, func(t *testing.T, backend string) {
		s := startServer(t, backend)
		from := s.createQueue(t, "gov110", "hurry", obj{"wrapup_s": 0})
		to := s.createQueue(t, "kdca1339", "hurry", obj{"wrapup_s": 0})
		s.createAgent(t, "e2e.sender", "gov110", 10, from)
		sender, _ := s.agentDesk(t, "e2e.sender", e2eAgentPassword)
		sender.ack(t, obj{"type": "state", "state": "available"})
		for i := range 6 {
			c, citizen := assignedChat(t, s, sender, from, fmt.Sprintf("typist-%d", i), "이관 중 입력")
			transfer := fmt.Sprintf(`{"type":"transfer","id":"t%d","contact_id":%q,"to":{"queue":%q},"mode":"cold","note":"이관"}`, i, c.ContactID, to)
			if err := sender.SendRaw([]byte(transfer)); err != nil {
				t.Fatal(err)
			}
			text := fmt.Sprintf("이관 중에 보낸 말 %d", i)
			if _, err := citizen.Send(obj{"type": "say", "text": text}); err != nil {
				t.Errorf("contact %d: the citizen's message during the transfer was refused: %v", i, err)
				continue
			}
			sender.awaitFunc(t, "the transfer's ack", typed("ack", "ref", fmt.Sprintf("t%d", i)))
			var cs caseDoc
			s.call(t, "GET", "/v1/cases/"+c.CaseID, s.admin(t), nil, http.StatusOK, &cs)
			if _, ok := cs.find("message", text); !ok {
				t.Errorf("contact %d: the case lacks the citizen's message:%s", i, cs.describe())
			}
		}
	})
}
