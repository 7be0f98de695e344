package dialplan

import "errors"

// ErrUnknownNumber is returned by Start for a number the plan does not
// answer.
var ErrUnknownNumber = errors.New("dialplan: unknown called number")

// Kind says what a step of a walk reached.
type Kind int

const (
	// EnterMenu: play the (new) current menu's greeting and wait for a digit.
	EnterMenu Kind = iota
	// Repeat: a digit the menu does not know; replay the greeting.
	Repeat
	// Queue: the walk is over; put the caller in Step.Queue.
	Queue
)

// Step is the outcome of a digit or a timeout.
type Step struct {
	Kind  Kind
	Menu  string // the current menu (EnterMenu, Repeat)
	Queue string // Queue
}

// Walk is one caller's way through the menus. It is pure: the edge feeds
// it digits and timeouts and does what the steps say.
type Walk struct {
	plan   *Plan
	menu   string
	chosen string
	path   []string
	wrong  int
	queue  string
}

// Start begins the walk of a call to number: the first step enters its
// menu.
func (p *Plan) Start(number string) (*Walk, Step, error) {
	id, ok := p.Numbers[number]
	if !ok {
		return nil, Step{}, ErrUnknownNumber
	}
	w := &Walk{plan: p, menu: id}
	return w, Step{Kind: EnterMenu, Menu: id}, nil
}

// Answers says whether the plan answers calls to number.
func (p *Plan) Answers(number string) bool {
	_, ok := p.Numbers[number]
	return ok
}

// Menu is the current menu.
func (w *Walk) Menu() *Menu { return w.plan.Menus[w.menu] }

// MenuID is the current menu's id.
func (w *Walk) MenuID() string { return w.menu }

// Language is the language to speak to the caller in: the one chosen, or
// the plan's.
func (w *Walk) Language() string {
	if w.chosen != "" {
		return w.chosen
	}
	return w.plan.Language
}

// Chosen is the language a choice set, "" when none did: only a chosen
// language becomes caller.language (a routing requirement).
func (w *Walk) Chosen() string { return w.chosen }

// Path is every choice made, for the contact's context.ivr: the digits
// pressed, and "timeout" where the default was taken.
func (w *Walk) Path() []string { return append([]string(nil), w.path...) }

// Done says whether the walk reached a queue.
func (w *Walk) Done() bool { return w.queue != "" }

// Digit applies a key press (0-9, *, #).
func (w *Walk) Digit(d string) Step {
	if w.queue != "" {
		return Step{Kind: Queue, Queue: w.queue}
	}
	m := w.Menu()
	a, ok := m.Choices[d]
	if !ok {
		w.wrong++
		if w.wrong >= m.Attempts {
			return w.take(m.Default, "timeout")
		}
		return Step{Kind: Repeat, Menu: w.menu}
	}
	return w.take(a, d)
}

// Timeout applies a silence of the menu's timeout: the default.
func (w *Walk) Timeout() Step {
	if w.queue != "" {
		return Step{Kind: Queue, Queue: w.queue}
	}
	return w.take(w.Menu().Default, "timeout")
}

func (w *Walk) take(a *Action, entry string) Step {
	// Menus may loop (a "repeat" key); the path keeps the API's limit.
	if len(w.path) < maxIVREntries {
		w.path = append(w.path, entry)
	}
	w.wrong = 0
	if a.Language != "" {
		w.chosen = a.Language
	}
	if a.Queue != "" {
		w.queue = a.Queue
		return Step{Kind: Queue, Queue: a.Queue}
	}
	w.menu = a.Menu
	return Step{Kind: EnterMenu, Menu: a.Menu}
}
