-- The durable case log (package transcripts): cases, their contacts (one
-- row per contact, its current leg), earlier legs of re-queued contacts and
-- every case's timeline. Text columns hold plain text and JSON as TEXT so
-- that search, masking and review can work on them as they are.
--
-- There are no foreign keys between these tables on purpose: the journal
-- writes whatever the router committed, and a missing parent row must not
-- turn one batch into an error that blocks every later acknowledgement.
CREATE TABLE cases (
	id              TEXT PRIMARY KEY,
	caller_id       TEXT NOT NULL,
	caller_name     TEXT NOT NULL,
	caller_language TEXT NOT NULL,
	context         TEXT NOT NULL, -- JSON {summary, ivr, attributes}
	status          TEXT NOT NULL, -- open | closed
	created_at      TIMESTAMPTZ NOT NULL,
	closed_at       TIMESTAMPTZ
);
CREATE INDEX cases_status ON cases (status, created_at);
CREATE INDEX cases_caller ON cases (caller_id);

CREATE TABLE contacts (
	id              TEXT PRIMARY KEY,
	case_id         TEXT NOT NULL,
	queue_id        TEXT NOT NULL,
	agency_id       TEXT NOT NULL,
	channel         TEXT NOT NULL,
	status          TEXT NOT NULL, -- queued | offered | assigned | ended
	priority        INTEGER NOT NULL,
	caller_id       TEXT NOT NULL,
	context         TEXT NOT NULL, -- JSON {summary, ivr, attributes}
	callback_number TEXT NOT NULL,
	skills          TEXT NOT NULL, -- JSON {"lang:en": 1, ...}
	seq             BIGINT NOT NULL, -- enqueue order, restores the line
	head            BOOLEAN NOT NULL, -- re-queued to the head of its line
	agent           TEXT NOT NULL,
	enqueued_at     TIMESTAMPTZ NOT NULL,
	answered_at     TIMESTAMPTZ,
	ended_at        TIMESTAMPTZ,
	disposition     TEXT NOT NULL,
	warm_of         TEXT NOT NULL
);
CREATE INDEX contacts_case ON contacts (case_id, seq);

-- A contact whose agent was lost goes back to its queue under the same id:
-- its row in contacts then holds the new leg, and the leg that ended is kept
-- here.
CREATE TABLE requeued_legs (
	contact_id  TEXT NOT NULL,
	enqueued_at TIMESTAMPTZ NOT NULL,
	case_id     TEXT NOT NULL,
	queue_id    TEXT NOT NULL,
	agency_id   TEXT NOT NULL,
	channel     TEXT NOT NULL,
	seq         BIGINT NOT NULL,
	agent       TEXT NOT NULL,
	answered_at TIMESTAMPTZ,
	ended_at    TIMESTAMPTZ NOT NULL,
	disposition TEXT NOT NULL,
	PRIMARY KEY (contact_id, enqueued_at)
);
CREATE INDEX requeued_legs_case ON requeued_legs (case_id);

-- The timeline: seq increases per case; (case_id, seq) makes a retried
-- write of the same entry a no-op.
CREATE TABLE case_events (
	case_id    TEXT NOT NULL,
	seq        BIGINT NOT NULL,
	at         TIMESTAMPTZ NOT NULL,
	type       TEXT NOT NULL,
	actor      TEXT NOT NULL,
	contact_id TEXT NOT NULL,
	text       TEXT NOT NULL,
	data       TEXT NOT NULL, -- JSON {"contact_id": ..., ...} or null
	PRIMARY KEY (case_id, seq)
);
