package transcripts

import (
	"reflect"
	"testing"
)

// Redacted masks phone, card and account numbers wherever a timeline may
// hold them — the keys of the context's attributes and of entries' data
// too — in every form the masking recognises, and leaves the timeline it
// was called on as it was.
func TestRedactedMasksKeysAndEveryForm(t *testing.T) {
	tl := Timeline{
		Caller: CallerView{ID: "010–1234–5678", Name: "홍길동 (02)123-4567"},
		Context: ContextView{Summary: "카드 4111.1111.1111.1111", IVR: []string{"공일공 일이삼사 오육칠팔"},
			Attributes: map[string]string{"010-1234-5678": "callback", "account": "110-123-456789"}},
		Legs: []LegView{{CallbackNumber: "+82 10-1234-5678", Disposition: "called 010 1234-5678"}},
		Events: []EntryView{{Actor: "citizen:82-10-1234-5678", Text: "010-12345678",
			Data: map[string]string{"010-1234-5678": "4111 1111 1111 1111"}}},
	}
	before := Timeline{Caller: tl.Caller, Context: tl.Context, Legs: append([]LegView{}, tl.Legs...),
		Events: append([]EntryView{}, tl.Events...)}
	red := tl.Redacted()
	want := Timeline{
		Caller: CallerView{ID: "010–****–5678", Name: "홍길동 (02)***-4567"},
		Context: ContextView{Summary: "카드 ****.****.****.1111", IVR: []string{"공일공 ＊＊＊＊ 오육칠팔"},
			Attributes: map[string]string{"010-****-5678": "callback", "account": "***-***-**6789"}},
		Legs: []LegView{{CallbackNumber: "+82 10-****-5678", Disposition: "called 010 ****-5678"}},
		Events: []EntryView{{Actor: "citizen:82-10-****-5678", Text: "010-****5678",
			Data: map[string]string{"010-****-5678": "**** **** **** 1111"}}},
		Masked: true,
	}
	if !reflect.DeepEqual(red, want) {
		t.Errorf("Redacted =\n%+v\nwant\n%+v", red, want)
	}
	if !reflect.DeepEqual(tl, before) {
		t.Errorf("Redacted changed the timeline it was called on:\n%+v", tl)
	}
}
