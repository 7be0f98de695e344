package agents

import "tellonce/privacy"

// Personal data on the agent's socket. Resident registration numbers
// were masked before they entered the router; phone, card and account
// numbers are masked here, frame by frame, for an agent without the pii
// permission — in every frame that carries what a citizen said or what
// was written about them: hello (contacts and offers), offer (with the
// case's history and transfer note), assigned, message, transcript and
// note. Resident registration numbers are masked again for everyone, for
// text restored from rows stored before the current rules.

// MaskCase is c as a reader sees it: resident registration numbers masked
// always, phone, card and account numbers too unless pii. It is what the
// agent's socket and GET /v1/cases/{id} answer.
func MaskCase(c CaseJSON, pii bool) CaseJSON {
	m := func(s string) string { return privacy.Mask(s, pii) }
	c.Caller = maskCaller(c.Caller, pii)
	if c.Legs != nil {
		legs := make([]LegJSON, len(c.Legs))
		for i, l := range c.Legs {
			l.Disposition = m(l.Disposition)
			legs[i] = l
		}
		c.Legs = legs
	}
	if c.Events != nil {
		events := make([]CaseEventJSON, len(c.Events))
		for i, e := range c.Events {
			events[i] = maskEvent(e, pii)
		}
		c.Events = events
	}
	if c.TransferNote != nil {
		n := maskEvent(*c.TransferNote, pii)
		c.TransferNote = &n
	}
	return c
}

// MaskContact is c as a reader sees it, by the rules of MaskCase.
func MaskContact(c ContactJSON, pii bool) ContactJSON {
	m := func(s string) string { return privacy.Mask(s, pii) }
	c.Caller = maskCaller(c.Caller, pii)
	c.Context.Summary = m(c.Context.Summary)
	if c.Context.IVR != nil {
		ivr := make([]string, len(c.Context.IVR))
		for i, s := range c.Context.IVR {
			ivr[i] = m(s)
		}
		c.Context.IVR = ivr
	}
	c.Context.Attributes = privacy.MaskMap(c.Context.Attributes, pii)
	c.CallbackNumber = m(c.CallbackNumber)
	c.Disposition = m(c.Disposition)
	return c
}

// maskCaller masks the caller's name and id. A voice caller's id is the
// calling number: masked it still tells calls apart ("010-****-5678").
func maskCaller(c CallerJSON, pii bool) CallerJSON {
	c.ID, c.Name = privacy.Mask(c.ID, pii), privacy.Mask(c.Name, pii)
	return c
}

func maskEvent(e CaseEventJSON, pii bool) CaseEventJSON {
	e.Actor, e.Text = privacy.Mask(e.Actor, pii), privacy.Mask(e.Text, pii)
	e.Data = privacy.MaskMap(e.Data, pii)
	return e
}

// maskedFrame is the frame v as an agent with or without pii sees it.
// Frames that carry no citizen text are returned as they are.
func maskedFrame(v any, pii bool) any {
	switch f := v.(type) {
	case helloFrame:
		contacts := make([]assignmentJSON, len(f.Contacts))
		for i, a := range f.Contacts {
			contacts[i] = assignmentJSON{Contact: MaskContact(a.Contact, pii), Case: MaskCase(a.Case, pii),
				History: maskHistory(a.History, pii)}
		}
		offers := make([]offerFrame, len(f.Offers))
		for i, o := range f.Offers {
			offers[i] = maskedFrame(o, pii).(offerFrame)
		}
		f.Contacts, f.Offers = contacts, offers
		return f
	case offerFrame:
		f.Contact, f.Case = MaskContact(f.Contact, pii), MaskCase(f.Case, pii)
		f.History = maskHistory(f.History, pii)
		return f
	case assignedFrame:
		f.Contact, f.Case = MaskContact(f.Contact, pii), MaskCase(f.Case, pii)
		f.History = maskHistory(f.History, pii)
		return f
	case agentMessageFrame:
		f.Text = privacy.Mask(f.Text, pii)
		return f
	case transcriptFrame:
		f.Text = privacy.Mask(f.Text, pii)
		return f
	case noteFrame:
		f.Text = privacy.Mask(f.Text, pii)
		return f
	}
	return v
}
