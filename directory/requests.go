package directory

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"tellonce/schedule"
)

var (
	agencyIDPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{1,31}$`)
	queueSlug       = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,31}$`)
	usernamePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{1,63}$`)
	skillPattern    = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,31}(:[a-z0-9_-]{1,32})?$`)
)

// Limits on request fields, shared with the API docs.
const (
	MaxNameLen        = 100
	MaxDescriptionLen = 1000
	MinPasswordLen    = 10
	MaxPasswordLen    = 256
	MaxSkills         = 50
	MaxSkillLevel     = 10
	MaxMemberships    = 100
	MaxOverflowRules  = 10
	MaxChatsLimit     = 20
	// MaxAgingS bounds aging_s (a day per priority step).
	MaxAgingS = 86400
)

// Queue defaults, as the API contract (docs/api.md) fixes them where it does.
const (
	DefaultOfferTimeoutS  = 20
	DefaultWrapupS        = 10
	DefaultWidenAfterS    = 30
	DefaultSLAWithinS     = 20
	DefaultSLATargetPct   = 80
	DefaultMaxChats       = 3
	DefaultMembershipRank = 1
	// A callback nobody answers is tried twice more, five minutes apart.
	DefaultCallbackRetries = 2
	DefaultCallbackRetryS  = 300
)

// QueueID joins an agency and a slug into a queue id.
func QueueID(agency, slug string) string { return agency + "." + slug }

// ValidAgencyID reports whether id is a well-formed agency id.
func ValidAgencyID(id string) bool { return agencyIDPattern.MatchString(id) }

// ValidQueueID reports whether id is a well-formed "<agency>.<slug>".
func ValidQueueID(id string) bool {
	agency, slug, ok := strings.Cut(id, ".")
	return ok && ValidAgencyID(agency) && queueSlug.MatchString(slug)
}

// AgencyOfQueue returns the agency part of a queue id.
func AgencyOfQueue(id string) string {
	agency, _, _ := strings.Cut(id, ".")
	return agency
}

func checkName(field, v string, required bool) error {
	if strings.TrimSpace(v) == "" {
		if required {
			return invalid(field, "is required")
		}
		return nil
	}
	if !utf8.ValidString(v) {
		return invalid(field, "must be valid UTF-8")
	}
	if utf8.RuneCountInString(v) > MaxNameLen {
		return invalid(field, "must be at most %d characters", MaxNameLen)
	}
	return nil
}

func checkRange(field string, v, lo, hi int) error {
	if v < lo || v > hi {
		return invalid(field, "must be between %d and %d", lo, hi)
	}
	return nil
}

func checkSkills(field string, skills map[string]int) error {
	if len(skills) > MaxSkills {
		return invalid(field, "may list at most %d skills", MaxSkills)
	}
	keys := make([]string, 0, len(skills))
	for k := range skills {
		keys = append(keys, k)
	}
	sort.Strings(keys) // report the first bad one deterministically
	for _, k := range keys {
		if !skillPattern.MatchString(k) {
			return invalid(field+"."+k, "must look like \"lang:ko\" or \"topic:tax\" (lowercase letters, digits, '-', '_')")
		}
		if err := checkRange(field+"."+k, skills[k], 1, MaxSkillLevel); err != nil {
			return err
		}
	}
	return nil
}

// AgencyCreate is the body of POST /v1/agencies.
type AgencyCreate struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Description string `json:"description"`
	// TimeZone is an IANA name; empty is schedule.DefaultZone.
	TimeZone string             `json:"time_zone"`
	Holidays []schedule.Holiday `json:"holidays"`
}

// Validate checks the request on its own.
func (r *AgencyCreate) Validate() error {
	if !ValidAgencyID(r.ID) {
		return invalid("id", "must match ^[a-z0-9][a-z0-9-]{1,31}$")
	}
	if err := checkName("name", r.Name, true); err != nil {
		return err
	}
	if err := checkDescription(r.Description); err != nil {
		return err
	}
	return checkCalendar(&r.TimeZone, r.Holidays)
}

// checkCalendar validates a zone (filling in the default for an empty
// one) and a holiday list.
func checkCalendar(zone *string, hs []schedule.Holiday) error {
	if zone != nil {
		if *zone == "" {
			*zone = schedule.DefaultZone
		}
		if _, err := schedule.LoadZone("time_zone", *zone); err != nil {
			return scheduleInvalid(err)
		}
	}
	return scheduleInvalid(schedule.ValidateHolidays("holidays", hs))
}

// scheduleInvalid turns the schedule's field errors into the directory's.
func scheduleInvalid(err error) error {
	var fe *schedule.FieldError
	if errors.As(err, &fe) {
		return invalid(fe.Field, "%s", fe.Message)
	}
	return err
}

func checkDescription(d string) error {
	if !utf8.ValidString(d) {
		return invalid("description", "must be valid UTF-8")
	}
	if utf8.RuneCountInString(d) > MaxDescriptionLen {
		return invalid("description", "must be at most %d characters", MaxDescriptionLen)
	}
	return nil
}

// AgencyPatch is the body of PATCH /v1/agencies/{id}; absent fields stay.
type AgencyPatch struct {
	Name        *string             `json:"name"`
	Description *string             `json:"description"`
	TimeZone    *string             `json:"time_zone"`
	Holidays    *[]schedule.Holiday `json:"holidays"`
}

// Validate checks the request on its own.
func (r *AgencyPatch) Validate() error {
	if r.Name != nil {
		if err := checkName("name", *r.Name, true); err != nil {
			return err
		}
	}
	if r.Description != nil {
		if err := checkDescription(*r.Description); err != nil {
			return err
		}
	}
	var hs []schedule.Holiday
	if r.Holidays != nil {
		hs = *r.Holidays
	}
	return checkCalendar(r.TimeZone, hs)
}

// QueueSettings are a queue's changeable fields. In a create request nil
// means "the default"; in a patch it means "unchanged".
type QueueSettings struct {
	Name           *string         `json:"name"`
	Kind           *string         `json:"kind"`
	Channels       *[]string       `json:"channels"`
	RequiredSkills *map[string]int `json:"required_skills"`
	Strategy       *string         `json:"strategy"`
	OfferTimeoutS  *int            `json:"offer_timeout_s"`
	WrapupS        *int            `json:"wrapup_s"`
	WidenAfterS    *int            `json:"widen_after_s"`
	Overflow       *[]OverflowRule `json:"overflow"`
	OverflowPolicy *string         `json:"overflow_policy"`
	HelpWhile      *HelpWhile      `json:"help_while"`
	SLA            *SLA            `json:"sla"`
	CallbackAfterS *int            `json:"callback_after_s"`
	// CallbackRetries and CallbackRetryS: how often, and how many seconds
	// apart, a callback nobody answered is tried again.
	CallbackRetries *int  `json:"callback_retries"`
	CallbackRetryS  *int  `json:"callback_retry_s"`
	MaxWaiting      *int  `json:"max_waiting"`
	Public          *bool `json:"public"`
	// Hours: present with a week sets opening hours, present as null
	// removes them (always open); absent leaves them.
	Hours OptionalWeek `json:"hours"`
	// AgingS: seconds of wait per priority step, 0 off.
	AgingS *int `json:"aging_s"`
}

// OptionalWeek tells an absent "hours" (Set false) from a null one.
type OptionalWeek struct {
	Set  bool
	Week *schedule.Week
}

// UnmarshalJSON is called only when the field is present, null included.
func (o *OptionalWeek) UnmarshalJSON(b []byte) error {
	o.Set = true
	o.Week = nil
	if string(b) == "null" {
		return nil
	}
	var w schedule.Week
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	o.Week = &w
	return nil
}

// MarshalJSON writes the week (or null).
func (o OptionalWeek) MarshalJSON() ([]byte, error) { return json.Marshal(o.Week) }

// QueueCreate is the body of POST /v1/agencies/{agency}/queues; ID is the
// slug, the queue's id becomes "<agency>.<slug>".
type QueueCreate struct {
	ID string `json:"id"`
	QueueSettings
}

// Validate checks the request on its own (overflow targets are checked
// against the store when it is applied).
func (r *QueueCreate) Validate() error {
	if !queueSlug.MatchString(r.ID) {
		return invalid("id", "must match ^[a-z0-9][a-z0-9-]{0,31}$ (the agency is added in front)")
	}
	if r.Name == nil {
		return invalid("name", "is required")
	}
	_, err := r.Queue("x")
	return err
}

// Queue builds the queue of agency that the request describes, with every
// default filled in. An interpreter queue is not public unless asked (and
// asking is refused).
func (r *QueueCreate) Queue(agency string) (Queue, error) {
	q := NewQueue(agency, r.ID)
	if r.Kind != nil && *r.Kind == KindInterpreter {
		q.Public = false
	}
	if err := r.Apply(&q); err != nil {
		return Queue{}, err
	}
	return q, nil
}

// NewQueue returns a queue with every default filled in.
func NewQueue(agency, slug string) Queue {
	return Queue{
		ID:              QueueID(agency, slug),
		Agency:          agency,
		Kind:            KindService,
		Channels:        []string{ChannelVoice, ChannelChat},
		RequiredSkills:  map[string]int{},
		Strategy:        StrategyLongestIdle,
		OfferTimeoutS:   DefaultOfferTimeoutS,
		WrapupS:         DefaultWrapupS,
		WidenAfterS:     DefaultWidenAfterS,
		Overflow:        []OverflowRule{},
		OverflowPolicy:  OverflowOwnFirst,
		SLA:             SLA{AnswerWithinS: DefaultSLAWithinS, TargetPct: DefaultSLATargetPct},
		CallbackRetries: DefaultCallbackRetries,
		CallbackRetryS:  DefaultCallbackRetryS,
		Public:          true,
	}
}

// Apply validates the settings and writes the present ones into q, then
// checks the rules that tie fields together on the result (so a patch
// that changes the kind alone is judged with the queue's other fields).
// On an error q may be partly changed: callers apply to a copy.
func (s *QueueSettings) Apply(q *Queue) error {
	if s.Name != nil {
		if err := checkName("name", *s.Name, true); err != nil {
			return err
		}
		q.Name = strings.TrimSpace(*s.Name)
	}
	if s.Kind != nil {
		switch *s.Kind {
		case KindService, KindInterpreter:
			q.Kind = *s.Kind
		default:
			return invalid("kind", "must be service or interpreter")
		}
	}
	if s.Channels != nil {
		ch, err := checkChannels(*s.Channels)
		if err != nil {
			return err
		}
		q.Channels = ch
	}
	if s.RequiredSkills != nil {
		if err := checkSkills("required_skills", *s.RequiredSkills); err != nil {
			return err
		}
		q.RequiredSkills = cloneSkills(*s.RequiredSkills)
	}
	if s.Strategy != nil {
		switch *s.Strategy {
		case StrategyLongestIdle, StrategyRoundRobin, StrategyFewestContacts, StrategyBestSkill:
			q.Strategy = *s.Strategy
		default:
			return invalid("strategy", "must be one of longest-idle, round-robin, fewest-contacts, best-skill")
		}
	}
	if err := s.applyNumbers(q); err != nil {
		return err
	}
	if s.Overflow != nil {
		rules, err := checkOverflow(q.ID, *s.Overflow)
		if err != nil {
			return err
		}
		q.Overflow = rules
	}
	if s.OverflowPolicy != nil {
		switch *s.OverflowPolicy {
		case OverflowOwnFirst, OverflowOldestFirst:
			q.OverflowPolicy = *s.OverflowPolicy
		default:
			return invalid("overflow_policy", "must be own-first or oldest-first")
		}
	}
	if s.HelpWhile != nil {
		if n := s.HelpWhile.MinIdle; n < 0 || n > MaxHelpMinIdle {
			return invalid("help_while.min_idle", "must be 0-%d", MaxHelpMinIdle)
		}
		q.HelpWhile = *s.HelpWhile
	}
	if s.Public != nil {
		q.Public = *s.Public
	}
	if s.Hours.Set {
		if err := schedule.ValidateWeek("hours", s.Hours.Week); err != nil {
			return scheduleInvalid(err)
		}
		q.Hours = s.Hours.Week.Clone()
	}
	return checkKind(*q)
}

// checkKind applies the rules of an interpreter queue: it takes no
// citizen of its own, so it is never on the public status page and offers
// no callbacks.
func checkKind(q Queue) error {
	if q.Kind != KindInterpreter {
		return nil
	}
	if q.Public {
		return invalid("public", "an interpreter queue cannot be public")
	}
	if slices.Contains(q.Channels, ChannelCallback) {
		return invalid("channels", "an interpreter queue takes only chat and voice, not callback")
	}
	return nil
}

func (s *QueueSettings) applyNumbers(q *Queue) error {
	fields := []struct {
		name   string
		v      *int
		lo, hi int
		dst    *int
	}{
		{"offer_timeout_s", s.OfferTimeoutS, 5, 120, &q.OfferTimeoutS},
		{"wrapup_s", s.WrapupS, 0, 600, &q.WrapupS},
		{"widen_after_s", s.WidenAfterS, 0, 3600, &q.WidenAfterS},
		{"callback_after_s", s.CallbackAfterS, 0, 86400, &q.CallbackAfterS},
		{"callback_retries", s.CallbackRetries, 0, 10, &q.CallbackRetries},
		{"callback_retry_s", s.CallbackRetryS, 30, 86400, &q.CallbackRetryS},
		{"max_waiting", s.MaxWaiting, 0, 100000, &q.MaxWaiting},
		{"aging_s", s.AgingS, 0, MaxAgingS, &q.AgingS},
	}
	for _, f := range fields {
		if f.v == nil {
			continue
		}
		if err := checkRange(f.name, *f.v, f.lo, f.hi); err != nil {
			return err
		}
		*f.dst = *f.v
	}
	if s.SLA != nil {
		if err := checkRange("sla.answer_within_s", s.SLA.AnswerWithinS, 1, 3600); err != nil {
			return err
		}
		if err := checkRange("sla.target_pct", s.SLA.TargetPct, 1, 100); err != nil {
			return err
		}
		q.SLA = *s.SLA
	}
	return nil
}

func checkChannels(in []string) ([]string, error) {
	if len(in) == 0 {
		return nil, invalid("channels", "must name at least one of voice, chat, callback")
	}
	seen := map[string]bool{}
	for i, c := range in {
		switch c {
		case ChannelVoice, ChannelChat, ChannelCallback:
		default:
			return nil, invalid(fmt.Sprintf("channels[%d]", i), "must be voice, chat or callback")
		}
		if seen[c] {
			return nil, invalid(fmt.Sprintf("channels[%d]", i), "%s is listed twice", c)
		}
		seen[c] = true
	}
	return append([]string(nil), in...), nil
}

func checkOverflow(self string, rules []OverflowRule) ([]OverflowRule, error) {
	if len(rules) > MaxOverflowRules {
		return nil, invalid("overflow", "may have at most %d rules", MaxOverflowRules)
	}
	seen := map[string]bool{}
	for i, r := range rules {
		f := fmt.Sprintf("overflow[%d]", i)
		if err := checkRange(f+".after_s", r.AfterS, 0, 86400); err != nil {
			return nil, err
		}
		if !ValidQueueID(r.To) {
			return nil, invalid(f+".to", "must be a queue id like \"gov110.general\"")
		}
		if r.To == self {
			return nil, invalid(f+".to", "a queue cannot overflow into itself")
		}
		if seen[r.To] {
			return nil, invalid(f+".to", "%s is listed twice", r.To)
		}
		seen[r.To] = true
	}
	return append([]OverflowRule{}, rules...), nil
}

func cloneSkills(in map[string]int) map[string]int {
	out := make(map[string]int, len(in))
	for k, v := range in {
		out[k] = v
	}
	return out
}

// UserCreate is the body of POST /v1/users.
type UserCreate struct {
	Username string         `json:"username"`
	Name     string         `json:"name"`
	Password string         `json:"password"`
	Role     string         `json:"role"`
	Agency   string         `json:"agency"`
	Skills   map[string]int `json:"skills"`
	Queues   []Membership   `json:"queues"`
	MaxChats *int           `json:"max_chats"`
	PII      bool           `json:"pii"`
	Export   bool           `json:"export"`
	SIPURI   string         `json:"sip_uri"`
}

// Validate checks the request on its own (agency and queues are checked
// against the store when it is applied).
func (r *UserCreate) Validate() error {
	if !usernamePattern.MatchString(r.Username) {
		return invalid("username", "must be 2-64 characters: lowercase letters, digits, '.', '_', '-'")
	}
	if err := checkName("name", r.Name, true); err != nil {
		return err
	}
	if err := CheckPassword(r.Password); err != nil {
		return err
	}
	if err := checkRoleAgency(r.Role, r.Agency); err != nil {
		return err
	}
	if err := checkSkills("skills", r.Skills); err != nil {
		return err
	}
	if _, err := checkMemberships(r.Queues); err != nil {
		return err
	}
	if r.MaxChats != nil {
		if err := checkRange("max_chats", *r.MaxChats, 0, MaxChatsLimit); err != nil {
			return err
		}
	}
	return checkSIPURI(r.Role, r.SIPURI)
}

// CheckPassword applies the password policy.
func CheckPassword(p string) error {
	n := utf8.RuneCountInString(p)
	if n < MinPasswordLen {
		return invalid("password", "must be at least %d characters", MinPasswordLen)
	}
	if len(p) > MaxPasswordLen {
		return invalid("password", "must be at most %d bytes", MaxPasswordLen)
	}
	if !utf8.ValidString(p) {
		return invalid("password", "must be valid UTF-8")
	}
	return nil
}

func checkRoleAgency(role, agency string) error {
	switch role {
	case RoleAdmin:
		if agency != "" {
			return invalid("agency", "an admin is central and belongs to no agency")
		}
	case RoleSupervisor, RoleAgent:
		if agency == "" {
			return invalid("agency", "is required for a %s", role)
		}
	case RoleGateway:
		// A gateway with no agency serves every agency.
	default:
		return invalid("role", "must be admin, supervisor, agent or gateway")
	}
	if agency != "" && !ValidAgencyID(agency) {
		return invalid("agency", "must be an agency id")
	}
	return nil
}

func checkMemberships(ms []Membership) ([]Membership, error) {
	if len(ms) > MaxMemberships {
		return nil, invalid("queues", "may list at most %d queues", MaxMemberships)
	}
	out := make([]Membership, 0, len(ms))
	seen := map[string]bool{}
	for i, m := range ms {
		f := fmt.Sprintf("queues[%d]", i)
		if !ValidQueueID(m.Queue) {
			return nil, invalid(f+".queue", "must be a queue id like \"gov110.general\"")
		}
		if seen[m.Queue] {
			return nil, invalid(f+".queue", "%s is listed twice", m.Queue)
		}
		seen[m.Queue] = true
		if m.Level == 0 {
			m.Level = DefaultMembershipRank
		}
		if err := checkRange(f+".level", m.Level, 1, MaxSkillLevel); err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}

// UserPatch is the body of PATCH /v1/users/{username}; absent fields stay.
// A user's agency is fixed: move a person by creating a new account.
type UserPatch struct {
	Name     *string         `json:"name"`
	Password *string         `json:"password"`
	Role     *string         `json:"role"`
	Skills   *map[string]int `json:"skills"`
	Queues   *[]Membership   `json:"queues"`
	MaxChats *int            `json:"max_chats"`
	PII      *bool           `json:"pii"`
	Export   *bool           `json:"export"`
	// SIPURI "" removes the user's SIP address.
	SIPURI *string `json:"sip_uri"`
}

// Apply validates the patch and writes the present fields into u (not the
// password, which the caller hashes). On an error u may be partly changed:
// callers apply to a copy.
func (p *UserPatch) Apply(u *User) error {
	if p.Name != nil {
		if err := checkName("name", *p.Name, true); err != nil {
			return err
		}
		u.Name = strings.TrimSpace(*p.Name)
	}
	if p.Password != nil {
		if err := CheckPassword(*p.Password); err != nil {
			return err
		}
	}
	if p.Role != nil {
		if err := checkRoleAgency(*p.Role, u.Agency); err != nil {
			if ve, ok := err.(*ValidationError); ok && ve.Field == "agency" {
				return invalid("role", "%s (the user's agency is %q)", ve.Message, u.Agency)
			}
			return err
		}
		u.Role = *p.Role
	}
	if p.Skills != nil {
		if err := checkSkills("skills", *p.Skills); err != nil {
			return err
		}
		u.Skills = cloneSkills(*p.Skills)
	}
	if p.Queues != nil {
		ms, err := checkMemberships(*p.Queues)
		if err != nil {
			return err
		}
		u.Queues = ms
	}
	if p.MaxChats != nil {
		if err := checkRange("max_chats", *p.MaxChats, 0, MaxChatsLimit); err != nil {
			return err
		}
		u.MaxChats = *p.MaxChats
	}
	if p.PII != nil {
		u.PII = *p.PII
	}
	if p.Export != nil {
		u.Export = *p.Export
	}
	if p.SIPURI != nil {
		u.SIPURI = *p.SIPURI
	}
	// Checked on the result: a role change may leave an address behind.
	if p.SIPURI != nil || p.Role != nil {
		return checkSIPURI(u.Role, u.SIPURI)
	}
	return nil
}

// NewUser builds the user a valid create request describes.
func (r *UserCreate) NewUser() User {
	ms, _ := checkMemberships(r.Queues)
	u := User{
		Username: r.Username,
		Name:     strings.TrimSpace(r.Name),
		Role:     r.Role,
		Agency:   r.Agency,
		Skills:   cloneSkills(r.Skills),
		Queues:   ms,
		MaxChats: DefaultMaxChats,
		PII:      r.PII,
		Export:   r.Export,
		SIPURI:   r.SIPURI,
	}
	if r.MaxChats != nil {
		u.MaxChats = *r.MaxChats
	}
	return u
}

// MaxSIPURILen bounds a user's sip_uri.
const MaxSIPURILen = 256

// sipURIPattern is sip: or sips:, a user part, @, a host name or an IPv4
// address or a bracketed IPv6 one, and an optional port. Parameters and
// headers are not accepted: the edge rings the address as it is.
var sipURIPattern = regexp.MustCompile(`^sips?:[A-Za-z0-9\-_.!~*'()&=+$,/%]+@` +
	`([A-Za-z0-9]([A-Za-z0-9\-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9\-]*[A-Za-z0-9])?)*|\[[0-9A-Fa-f:.]+\])` +
	`(:[0-9]{1,5})?$`)

// checkSIPURI checks an optional SIP address of a user of role: only
// agents and supervisors take calls.
func checkSIPURI(role, uri string) error {
	if uri == "" {
		return nil
	}
	if role != RoleAgent && role != RoleSupervisor {
		return invalid("sip_uri", "only agents and supervisors take calls; remove the sip_uri of a %s", role)
	}
	if len(uri) > MaxSIPURILen {
		return invalid("sip_uri", "must be at most %d bytes", MaxSIPURILen)
	}
	if !sipURIPattern.MatchString(uri) {
		return invalid("sip_uri", "must be a SIP address like sip:han.jiwon@pbx.example.go.kr or sips:1004@10.0.0.5:5061")
	}
	host := uri[strings.LastIndex(uri, "@")+1:]
	sep := ":"
	if strings.HasPrefix(host, "[") {
		sep = "]:"
	}
	if _, port, ok := strings.Cut(host, sep); ok {
		return checkPort(port)
	}
	return nil
}

func checkPort(port string) error {
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return invalid("sip_uri", "port must be 1-65535")
	}
	return nil
}
