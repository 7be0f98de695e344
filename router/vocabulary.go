package router

import "tellonce/cases"

// The router's names for the types of package cases, which hold what crosses
// package lines; the router works in them.
type (
	Channel               = cases.Channel
	Strategy              = cases.Strategy
	OverflowPolicy        = cases.OverflowPolicy
	OverflowRule          = cases.OverflowRule
	SLA                   = cases.SLA
	QueueConfig           = cases.QueueConfig
	QueueKind             = cases.QueueKind
	AgentProfile          = cases.AgentProfile
	AgentState            = cases.AgentState
	ContactStatus         = cases.ContactStatus
	Caller                = cases.Caller
	ContactContext        = cases.ContactContext
	TransferMode          = cases.TransferMode
	PartyRole             = cases.PartyRole
	Party                 = cases.Party
	Leg                   = cases.Leg
	CaseEvent             = cases.CaseEvent
	CaseView              = cases.CaseView
	ContactView           = cases.ContactView
	AgentView             = cases.AgentView
	OfferView             = cases.OfferView
	Assignment            = cases.Assignment
	Desk                  = cases.Desk
	Hours                 = cases.Hours
	ClosedError           = cases.ClosedError
	Recording             = cases.Recording
	QueueStats            = cases.QueueStats
	EventType             = cases.EventType
	Event                 = cases.Event
	Snapshot              = cases.Snapshot
	CaseSnapshot          = cases.CaseSnapshot
	ContactSnapshot       = cases.ContactSnapshot
	PastCase              = cases.PastCase
	FieldError            = cases.FieldError
	DuplicateContactError = cases.DuplicateContactError
	Target                = cases.Target
	CallbackRequest       = cases.CallbackRequest
	Slot                  = cases.Slot
	FollowUp              = cases.FollowUp
	InterpretRequest      = cases.InterpretRequest
)

// The router's names for the constants of package cases.
const (
	ChannelVoice              = cases.ChannelVoice
	ChannelChat               = cases.ChannelChat
	ChannelCallback           = cases.ChannelCallback
	StrategyLongestIdle       = cases.StrategyLongestIdle
	StrategyRoundRobin        = cases.StrategyRoundRobin
	StrategyFewestContacts    = cases.StrategyFewestContacts
	StrategyBestSkill         = cases.StrategyBestSkill
	OverflowOwnFirst          = cases.OverflowOwnFirst
	OverflowOldestFirst       = cases.OverflowOldestFirst
	DefaultOfferTimeout       = cases.DefaultOfferTimeout
	DefaultWrapup             = cases.DefaultWrapup
	QueueService              = cases.QueueService
	QueueInterpreter          = cases.QueueInterpreter
	StateOffline              = cases.StateOffline
	StateAvailable            = cases.StateAvailable
	StateBreak                = cases.StateBreak
	StateNotReady             = cases.StateNotReady
	StateBusy                 = cases.StateBusy
	StateWrapup               = cases.StateWrapup
	StatusQueued              = cases.StatusQueued
	StatusScheduled           = cases.StatusScheduled
	StatusOffered             = cases.StatusOffered
	StatusAssigned            = cases.StatusAssigned
	StatusEnded               = cases.StatusEnded
	TransferCold              = cases.TransferCold
	TransferWarm              = cases.TransferWarm
	RoleAgent                 = cases.RoleAgent
	RoleCitizen               = cases.RoleCitizen
	RoleInterpreter           = cases.RoleInterpreter
	MaxAging                  = cases.MaxAging
	MaxHistory                = cases.MaxHistory
	DefaultCallbackRetryAfter = cases.DefaultCallbackRetryAfter
	EventContactCreated       = cases.EventContactCreated
	EventQueued               = cases.EventQueued
	EventQueueChanged         = cases.EventQueueChanged
	EventOffered              = cases.EventOffered
	EventOfferRevoked         = cases.EventOfferRevoked
	EventAccepted             = cases.EventAccepted
	EventDeclined             = cases.EventDeclined
	EventOfferTimeout         = cases.EventOfferTimeout
	EventMessage              = cases.EventMessage
	EventTranscript           = cases.EventTranscript
	EventNote                 = cases.EventNote
	EventTransferred          = cases.EventTransferred
	EventTransferFailed       = cases.EventTransferFailed
	EventEnded                = cases.EventEnded
	EventAbandoned            = cases.EventAbandoned
	EventRequeued             = cases.EventRequeued
	EventAgentState           = cases.EventAgentState
	EventCaseClosed           = cases.EventCaseClosed
	EventCaseReopened         = cases.EventCaseReopened
	EventCallbackRequested    = cases.EventCallbackRequested
	EventCallbackDue          = cases.EventCallbackDue
	EventCallbackAttempt      = cases.EventCallbackAttempt
	EventRecording            = cases.EventRecording
	EventInterpreter          = cases.EventInterpreter
	CaseContactCreated        = cases.CaseContactCreated
	CaseAssigned              = cases.CaseAssigned
	CaseMessage               = cases.CaseMessage
	CaseTranscript            = cases.CaseTranscript
	CaseNote                  = cases.CaseNote
	CaseTransfer              = cases.CaseTransfer
	CaseTransferFailed        = cases.CaseTransferFailed
	CaseRequeued              = cases.CaseRequeued
	CaseEnded                 = cases.CaseEnded
	CaseCallbackRequested     = cases.CaseCallbackRequested
	CaseCallbackAttempt       = cases.CaseCallbackAttempt
	CaseRecording             = cases.CaseRecording
	CaseReopened              = cases.CaseReopened
	CaseInterpreterRequested  = cases.CaseInterpreterRequested
	InterpreterRequested      = cases.InterpreterRequested
	InterpreterJoined         = cases.InterpreterJoined
	InterpreterLeft           = cases.InterpreterLeft
	DefaultHandleTime         = cases.DefaultHandleTime
	CallbackAnswered          = cases.CallbackAnswered
	CallbackNoAnswer          = cases.CallbackNoAnswer
	CallbackBusy              = cases.CallbackBusy
	CallbackFailed            = cases.CallbackFailed
	ConnectNoAnswer           = cases.ConnectNoAnswer
	ConnectBusy               = cases.ConnectBusy
	ConnectFailed             = cases.ConnectFailed
	EndAgentHangup            = cases.EndAgentHangup
	EndCallerHangup           = cases.EndCallerHangup
)

// The router's names for the errors of package cases: the same values, so
// errors.Is holds across both names.
var (
	ErrNotFound    = cases.ErrNotFound
	ErrForbidden   = cases.ErrForbidden
	ErrConflict    = cases.ErrConflict
	ErrInvalid     = cases.ErrInvalid
	ErrClosed      = cases.ErrClosed
	ErrUnavailable = cases.ErrUnavailable
)

// AsAgent is the agent username as a message author.
func AsAgent(username string) Party { return cases.AsAgent(username) }

// AsCitizen is the contact's citizen as a message author.
func AsCitizen() Party { return cases.AsCitizen() }

// ValidCallbackResult reports whether s is one of the callback results.
func ValidCallbackResult(s string) bool { return cases.ValidCallbackResult(s) }

// ValidConnectResult says whether s is a result ConnectFailed takes.
func ValidConnectResult(s string) bool { return cases.ValidConnectResult(s) }

func clonePastCases(h []PastCase) []PastCase { return cases.ClonePastCases(h) }
