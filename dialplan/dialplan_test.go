package dialplan

import (
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
)

const small = `
numbers:
  "126": main
menus:
  main:
    greeting: nts126.main
    timeout: 4s
    attempts: 2
    default: {queue: nts126.general}
    choices:
      "1": {menu: tax}
      "9": {language: en, queue: nts126.english}
  tax:
    default: {queue: nts126.general}
    choices:
      "1": {queue: nts126.year-end}
      "*": {menu: main}
`

func mustParse(t *testing.T, src string) *Plan {
	t.Helper()
	p, err := Parse([]byte(src))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return p
}

func TestParseAppliesDefaults(t *testing.T) {
	p := mustParse(t, small)
	if p.Language != "ko" {
		t.Errorf("language = %q, want ko", p.Language)
	}
	if got := time.Duration(p.Menus["main"].Timeout); got != 4*time.Second {
		t.Errorf("main timeout = %v", got)
	}
	if got := time.Duration(p.Menus["tax"].Timeout); got != DefaultTimeout {
		t.Errorf("tax timeout = %v, want the default", got)
	}
	if p.Menus["tax"].Attempts != DefaultAttempts {
		t.Errorf("tax attempts = %d", p.Menus["tax"].Attempts)
	}
}

func TestTheDemoDialPlanIsValid(t *testing.T) {
	data, err := os.ReadFile("../demo/dialplan.yaml")
	if err != nil {
		t.Fatal(err)
	}
	p := mustParse(t, string(data))
	for _, n := range []string{"110", "1339", "126", "1345"} {
		if !p.Answers(n) {
			t.Errorf("the demo plan does not answer %s", n)
		}
	}
}

func TestValidationNamesFieldAndLine(t *testing.T) {
	cases := []struct {
		name, src, want string
	}{
		{"no numbers", "menus: {}\n", "numbers: at least one"},
		{"unknown menu", "numbers:\n  \"110\": nope\nmenus: {}\n", `line 2: numbers.110: no menu "nope"`},
		{"bad number", "numbers:\n  \"1a\": m\nmenus:\n  m:\n    default: {queue: a.b}\n", "line 2: numbers.1a: a called number"},
		{"no default", "numbers:\n  \"1\": m\nmenus:\n  m:\n    greeting: x\n", "line 4: menus.m.default: required"},
		{"bad queue", "numbers:\n  \"1\": m\nmenus:\n  m:\n    default:\n      queue: General\n", "line 6: menus.m.default.queue: a queue id"},
		{"menu and queue", "numbers:\n  \"1\": m\nmenus:\n  m:\n    default: {queue: a.b, menu: m}\n", "line 5: menus.m.default: either a menu or a queue"},
		{"neither", "numbers:\n  \"1\": m\nmenus:\n  m:\n    default: {language: en}\n", "line 5: menus.m.default: needs a menu or a queue"},
		{"bad key", "numbers:\n  \"1\": m\nmenus:\n  m:\n    default: {queue: a.b}\n    choices:\n      \"12\": {queue: a.b}\n", "line 7: menus.m.choices.12: a choice is one DTMF key"},
		{"bad language", "language: Korean\nnumbers:\n  \"1\": m\nmenus:\n  m:\n    default: {queue: a.b}\n", "line 1: language: not a language tag"},
		{"bad timeout", "numbers:\n  \"1\": m\nmenus:\n  m:\n    timeout: 500ms\n    default: {queue: a.b}\n", "line 5: menus.m.timeout: between 1s and 2m"},
		{"sub-menu missing", "numbers:\n  \"1\": m\nmenus:\n  m:\n    default: {queue: a.b}\n    choices:\n      \"2\": {menu: gone}\n", `line 7: menus.m.choices.2.menu: no menu "gone"`},
		{"unknown field", "numbers:\n  \"1\": m\nmenus:\n  m:\n    defualt: {queue: a.b}\n", "defualt"},
		{"not yaml", "numbers: [\n", "dial plan"},
		{"bad unrecorded queue", "numbers:\n  \"1\": m\nmenus:\n  m:\n    default: {queue: a.b}\nunrecorded: [General]\n", `line 6: unrecorded: "General": a queue id`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse([]byte(c.src))
			if err == nil {
				t.Fatalf("no error; want %q", c.want)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %q does not contain %q", err, c.want)
			}
		})
	}
}

func TestParseReadsJSON(t *testing.T) {
	mustParse(t, `{"numbers": {"110": "m"}, "menus": {"m": {"timeout": 3, "default": {"queue": "gov110.general"}}}}`)
}

func TestWalkThroughSubMenuToQueue(t *testing.T) {
	p := mustParse(t, small)
	w, step, err := p.Start("126")
	if err != nil || step.Kind != EnterMenu || step.Menu != "main" {
		t.Fatalf("Start = %+v, %v", step, err)
	}
	if s := w.Digit("1"); s.Kind != EnterMenu || s.Menu != "tax" {
		t.Fatalf("1 → %+v", s)
	}
	if s := w.Digit("*"); s.Kind != EnterMenu || s.Menu != "main" {
		t.Fatalf("* → %+v", s)
	}
	if s := w.Digit("1"); s.Menu != "tax" {
		t.Fatalf("1 → %+v", s)
	}
	if s := w.Digit("1"); s.Kind != Queue || s.Queue != "nts126.year-end" {
		t.Fatalf("1 → %+v", s)
	}
	if !w.Done() || !reflect.DeepEqual(w.Path(), []string{"1", "*", "1", "1"}) {
		t.Fatalf("done %v path %v", w.Done(), w.Path())
	}
	if w.Chosen() != "" || w.Language() != "ko" {
		t.Fatalf("language chosen %q speaking %q", w.Chosen(), w.Language())
	}
}

func TestWalkLanguageChoice(t *testing.T) {
	p := mustParse(t, small)
	w, _, _ := p.Start("126")
	if s := w.Digit("9"); s.Kind != Queue || s.Queue != "nts126.english" {
		t.Fatalf("9 → %+v", s)
	}
	if w.Chosen() != "en" || w.Language() != "en" {
		t.Fatalf("language %q", w.Chosen())
	}
}

func TestWalkTimeoutAndWrongKeysTakeTheDefault(t *testing.T) {
	p := mustParse(t, small)
	w, _, _ := p.Start("126")
	if s := w.Timeout(); s.Kind != Queue || s.Queue != "nts126.general" {
		t.Fatalf("timeout → %+v", s)
	}
	if !reflect.DeepEqual(w.Path(), []string{"timeout"}) {
		t.Fatalf("path %v", w.Path())
	}

	w, _, _ = p.Start("126")
	if s := w.Digit("5"); s.Kind != Repeat || s.Menu != "main" {
		t.Fatalf("wrong key → %+v", s)
	}
	if s := w.Digit("5"); s.Kind != Queue || s.Queue != "nts126.general" {
		t.Fatalf("second wrong key (attempts 2) → %+v", s)
	}
}

func TestWalkUnknownNumber(t *testing.T) {
	p := mustParse(t, small)
	if _, _, err := p.Start("999"); !errors.Is(err, ErrUnknownNumber) {
		t.Fatalf("err = %v", err)
	}
}

func TestWalkPathKeepsTheAPILimit(t *testing.T) {
	p := mustParse(t, small)
	w, _, _ := p.Start("126")
	for range 100 {
		w.Digit("1")
		w.Digit("*")
	}
	if len(w.Path()) != maxIVREntries {
		t.Fatalf("path has %d entries", len(w.Path()))
	}
}

// FuzzParse: any input either fails with an error or gives a plan on
// which any walk reaches menus that exist and ends in a valid queue.
func FuzzParse(f *testing.F) {
	f.Add([]byte(small))
	if data, err := os.ReadFile("../demo/dialplan.yaml"); err == nil {
		f.Add(data)
	}
	f.Add([]byte(`{"numbers": {"1": "m"}, "menus": {"m": {"default": {"menu": "m"}}}}`))
	f.Add([]byte("numbers: [\n"))
	f.Add([]byte("menus:\n  m:\n    timeout: -1\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Parse(data)
		if err != nil {
			return
		}
		for n := range p.Numbers {
			w, _, err := p.Start(n)
			if err != nil {
				t.Fatalf("Start(%q): %v", n, err)
			}
			for i, d := range "19*#0" {
				var s Step
				if i%2 == 0 {
					s = w.Digit(string(d))
				} else {
					s = w.Timeout()
				}
				if s.Kind == Queue {
					if !queueRe.MatchString(s.Queue) {
						t.Fatalf("walk reached invalid queue %q", s.Queue)
					}
					break
				}
				if w.Menu() == nil {
					t.Fatalf("walk reached missing menu %q", w.MenuID())
				}
			}
		}
	})
}

func TestRecordsAllQueuesButTheUnrecorded(t *testing.T) {
	p, err := Parse([]byte("numbers:\n  \"1\": m\nmenus:\n  m:\n    default: {queue: a.b}\nunrecorded: [a.quiet]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if !p.Records("a.b") {
		t.Error("a.b is not recorded; want recorded (not listed)")
	}
	if p.Records("a.quiet") {
		t.Error("a.quiet is recorded; want not (listed in unrecorded)")
	}
}
