// Package dialplan owns the phone menus of the edge: the dial plan file
// (which called number opens which menu, each menu's greeting, choices,
// timeout and default), its validation, and a pure walker that turns a
// caller's digits and silences into the next menu, a language or a queue.
package dialplan

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
)

// Defaults where the file is silent.
const (
	DefaultTimeout  = 5 * time.Second
	DefaultAttempts = 3
	DefaultLanguage = "ko"
	maxIVREntries   = 64 // the API's limit on context.ivr
)

// Plan is a validated dial plan.
type Plan struct {
	// Language is the prompts' language until a choice sets one.
	Language string `yaml:"language"`
	// Numbers maps a called number to the id of its first menu.
	Numbers map[string]string `yaml:"numbers"`
	// Menus by id.
	Menus map[string]*Menu `yaml:"menus"`
	// Unrecorded lists the queues whose calls are not recorded (and whose
	// callers hear no recording notice) where the edge records at all.
	Unrecorded []string `yaml:"unrecorded"`
}

// Records says whether calls answered in queue are recorded.
func (p *Plan) Records(queue string) bool {
	return !slices.Contains(p.Unrecorded, queue)
}

// Menu is one phone menu.
type Menu struct {
	// Greeting is the prompt key played on entering the menu.
	Greeting string `yaml:"greeting"`
	// Timeout is how long the menu waits for a digit after its greeting.
	Timeout Duration `yaml:"timeout"`
	// Attempts is how many wrong digits replay the menu before Default.
	Attempts int `yaml:"attempts"`
	// Default is taken on a timeout, and after Attempts wrong digits.
	Default *Action `yaml:"default"`
	// Choices by DTMF digit (0-9, *, #).
	Choices map[string]*Action `yaml:"choices"`
}

// Action is where a choice leads: to a menu or a queue, optionally setting
// the caller's language on the way.
type Action struct {
	Menu     string `yaml:"menu"`
	Queue    string `yaml:"queue"`
	Language string `yaml:"language"`
}

// Duration reads "5s", "1m30s" or a number of seconds.
type Duration time.Duration

// UnmarshalYAML implements yaml.BytesUnmarshaler.
func (d *Duration) UnmarshalYAML(b []byte) error {
	s := strings.Trim(strings.TrimSpace(string(b)), `"'`)
	if n, err := strconv.ParseFloat(s, 64); err == nil {
		*d = Duration(n * float64(time.Second))
		return nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("not a duration: %q (write 5s or 1m)", s)
	}
	*d = Duration(v)
	return nil
}

var (
	queueRe    = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*\.[a-z0-9][a-z0-9-]*$`)
	numberRe   = regexp.MustCompile(`^\+?[0-9*#]{1,32}$`)
	languageRe = regexp.MustCompile(`^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$`)
	menuIDRe   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)
	promptRe   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)
)

// Error is a validation error: the field at fault as a path, and the line
// of the file it is on (0 when unknown).
type Error struct {
	Line    int
	Field   string
	Message string
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("line %d: %s: %s", e.Line, e.Field, e.Message)
	}
	return fmt.Sprintf("%s: %s", e.Field, e.Message)
}

// Parse reads and validates a dial plan (YAML; JSON is YAML too). Every
// problem found is reported, each naming its field and line.
func Parse(data []byte) (*Plan, error) {
	file, err := parser.ParseBytes(data, 0)
	if err != nil {
		return nil, fmt.Errorf("dial plan: %s", yaml.FormatError(err, false, false))
	}
	var p Plan
	if err := yaml.UnmarshalWithOptions(data, &p, yaml.Strict()); err != nil {
		return nil, fmt.Errorf("dial plan: %s", yaml.FormatError(err, false, false))
	}
	var errs []error
	add := func(msg string, path ...string) {
		errs = append(errs, &Error{Line: lineOf(file, path), Field: strings.Join(path, "."), Message: msg})
	}
	p.validate(add)
	if len(errs) > 0 {
		return nil, fmt.Errorf("dial plan: %w", errors.Join(errs...))
	}
	return &p, nil
}

func (p *Plan) validate(add func(msg string, path ...string)) {
	if p.Language == "" {
		p.Language = DefaultLanguage
	} else if !languageRe.MatchString(p.Language) {
		add("not a language tag (ko, en, zh-Hant)", "language")
	}
	if len(p.Numbers) == 0 {
		add("at least one called number is needed", "numbers")
	}
	for _, n := range sortedKeys(p.Numbers) {
		if !numberRe.MatchString(n) {
			add("a called number is 1-32 digits, * or #, with an optional leading +", "numbers", n)
		}
		if _, ok := p.Menus[p.Numbers[n]]; !ok {
			add(fmt.Sprintf("no menu %q", p.Numbers[n]), "numbers", n)
		}
	}
	for _, q := range p.Unrecorded {
		if !queueRe.MatchString(q) {
			add(fmt.Sprintf("%q: a queue id is agency.queue in lower case (gov110.general)", q), "unrecorded")
		}
	}
	for _, id := range sortedKeys(p.Menus) {
		m := p.Menus[id]
		if !menuIDRe.MatchString(id) {
			add("a menu id is letters, digits, '.', '_' or '-', at most 64", "menus", id)
		}
		if m == nil {
			add("empty menu", "menus", id)
			continue
		}
		if m.Greeting != "" && !promptRe.MatchString(m.Greeting) {
			add("a prompt key is letters, digits, '.', '_' or '-'", "menus", id, "greeting")
		}
		if m.Timeout == 0 {
			m.Timeout = Duration(DefaultTimeout)
		} else if m.Timeout < Duration(time.Second) || m.Timeout > Duration(2*time.Minute) {
			add("between 1s and 2m", "menus", id, "timeout")
		}
		if m.Attempts == 0 {
			m.Attempts = DefaultAttempts
		} else if m.Attempts < 1 || m.Attempts > 10 {
			add("between 1 and 10", "menus", id, "attempts")
		}
		if m.Default == nil {
			add("required: where a caller who presses nothing goes", "menus", id, "default")
		} else {
			p.validateAction(m.Default, add, "menus", id, "default")
		}
		for _, d := range sortedKeys(m.Choices) {
			if len(d) != 1 || !strings.Contains("0123456789*#", d) {
				add("a choice is one DTMF key: 0-9, * or #", "menus", id, "choices", d)
			}
			if m.Choices[d] == nil {
				add("empty choice", "menus", id, "choices", d)
				continue
			}
			p.validateAction(m.Choices[d], add, "menus", id, "choices", d)
		}
	}
}

func (p *Plan) validateAction(a *Action, add func(msg string, path ...string), path ...string) {
	at := func(f string) []string { return append(append([]string{}, path...), f) }
	switch {
	case a.Menu == "" && a.Queue == "":
		add("needs a menu or a queue", path...)
	case a.Menu != "" && a.Queue != "":
		add("either a menu or a queue, not both", path...)
	case a.Menu != "":
		if _, ok := p.Menus[a.Menu]; !ok {
			add(fmt.Sprintf("no menu %q", a.Menu), at("menu")...)
		}
	default:
		if !queueRe.MatchString(a.Queue) {
			add("a queue id is agency.queue in lower case (gov110.general)", at("queue")...)
		}
	}
	if a.Language != "" && !languageRe.MatchString(a.Language) {
		add("not a language tag (ko, en, zh-Hant)", at("language")...)
	}
}

// lineOf finds the line of the key at path in the parsed file, or of the
// deepest part of it that exists.
func lineOf(f *ast.File, path []string) int {
	if f == nil || len(f.Docs) == 0 {
		return 0
	}
	node := f.Docs[0].Body
	line := 0
	for _, key := range path {
		m, ok := node.(*ast.MappingNode)
		if !ok {
			return line
		}
		found := false
		for _, kv := range m.Values {
			if strings.Trim(kv.Key.String(), `"'`) == key {
				line = kv.Key.GetToken().Position.Line
				node = kv.Value
				found = true
				break
			}
		}
		if !found {
			return line
		}
	}
	return line
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
