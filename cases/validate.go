package cases

import (
	"strings"
	"time"
)

// MaxIDLen bounds every id and name the router indexes.
const MaxIDLen = 128

// MaxPhoneLen bounds an agent's SIP address.
const MaxPhoneLen = 256

// CheckID rejects empty, overlong or control-character ids: ids become
// index keys, where a NUL byte would break key boundaries.
func CheckID(field, s string) error {
	if s == "" {
		return Invalid(field, "is required")
	}
	if len(s) > MaxIDLen {
		return Invalid(field, "is longer than %d bytes", MaxIDLen)
	}
	if strings.IndexFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }) >= 0 {
		return Invalid(field, "contains a control character")
	}
	return nil
}

// CheckSkills rejects bad skill names and levels outside 0-100.
func CheckSkills(field string, skills map[string]int) error {
	for k, lvl := range skills {
		if err := CheckID(field, k); err != nil {
			return err
		}
		if lvl < 0 || lvl > 100 {
			return Invalid(field, "level of %q must be 0-100", k)
		}
	}
	return nil
}

// Validate checks a queue configuration.
func (q QueueConfig) Validate() error {
	if err := CheckID("id", q.ID); err != nil {
		return err
	}
	if err := CheckID("agency", q.Agency); err != nil {
		return err
	}
	if len(q.Channels) == 0 {
		return Invalid("channels", "at least one channel is required")
	}
	for _, c := range q.Channels {
		if !c.Valid() {
			return Invalid("channels", "unknown channel %q", c)
		}
	}
	if err := CheckSkills("required_skills", q.RequiredSkills); err != nil {
		return err
	}
	switch q.Strategy {
	case "", StrategyLongestIdle, StrategyRoundRobin, StrategyFewestContacts, StrategyBestSkill:
	default:
		return Invalid("strategy", "unknown strategy %q", q.Strategy)
	}
	switch q.OverflowPolicy {
	case "", OverflowOwnFirst, OverflowOldestFirst:
	default:
		return Invalid("overflow_policy", "unknown policy %q", q.OverflowPolicy)
	}
	if q.HelpWhile.MinIdle < 0 || q.HelpWhile.MinIdle > MaxHelpMinIdle {
		return Invalid("help_while.min_idle", "must be 0-%d", MaxHelpMinIdle)
	}
	switch q.Kind {
	case "", QueueService, QueueInterpreter:
	default:
		return Invalid("kind", "unknown queue kind %q", q.Kind)
	}
	if q.Aging < 0 || q.Aging > MaxAging {
		return Invalid("aging_s", "must be 0-%d", int(MaxAging/time.Second))
	}
	if q.CallbackRetries < 0 || q.CallbackRetries > 10 {
		return Invalid("callback_retries", "must be 0-10")
	}
	if q.OfferTimeout < 0 || q.WidenAfter < 0 || q.CallbackAfter < 0 || q.CallbackRetryAfter < 0 || q.MaxWaiting < 0 {
		return Invalid("timing", "durations and max_waiting must not be negative")
	}
	for _, o := range q.Overflow {
		if err := CheckID("overflow.to", o.To); err != nil {
			return err
		}
		if o.To == q.ID {
			return Invalid("overflow.to", "a queue cannot overflow into itself")
		}
		if o.After < 0 {
			return Invalid("overflow.after", "must not be negative")
		}
	}
	return nil
}

// Validate checks an agent profile.
func (p AgentProfile) Validate() error {
	if err := CheckID("username", p.Username); err != nil {
		return err
	}
	if p.Agency != "" {
		if err := CheckID("agency", p.Agency); err != nil {
			return err
		}
	}
	if err := CheckSkills("skills", p.Skills); err != nil {
		return err
	}
	if err := CheckSkills("queues", p.Queues); err != nil {
		return err
	}
	if p.MaxChats < 0 || p.MaxChats > 100 {
		return Invalid("max_chats", "must be 0-100")
	}
	if len(p.Phone) > MaxPhoneLen {
		return Invalid("phone", "is longer than %d bytes", MaxPhoneLen)
	}
	return nil
}
