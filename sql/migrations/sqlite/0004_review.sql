-- Transcript review (package transcripts): the text search index, the
-- indexes behind the review filters and the retention purge, and the
-- access audit.

-- Substring search that works for Korean: an FTS5 table with the trigram
-- tokenizer answers a quoted phrase of three characters or more as a
-- substring match ("증명서" finds "증명서가"). It keeps its own copy of
-- each non-empty text with the entry's key, filled by a trigger on every
-- insert into case_events, so no writer can forget it. It is not an
-- external-content table on purpose: case_events has no INTEGER PRIMARY
-- KEY, and VACUUM may renumber the rowids such a table would point at.
-- The retention purge deletes its rows by case.
CREATE VIRTUAL TABLE case_events_fts USING fts5(
	text,
	case_id UNINDEXED,
	seq UNINDEXED,
	tokenize = 'trigram'
);
CREATE TRIGGER case_events_fts_insert AFTER INSERT ON case_events
WHEN new.text <> ''
BEGIN
	INSERT INTO case_events_fts (text, case_id, seq) VALUES (new.text, new.case_id, new.seq);
END;

-- Listing, newest first with a keyset cursor; and the retention purge,
-- which looks for cases closed before a cut-off.
CREATE INDEX cases_created ON cases (created_at, id);
CREATE INDEX cases_closed ON cases (closed_at) WHERE status = 'closed';

-- Which agencies, queues and agents a case touched: the filters, and the
-- scope of a supervisor (their agency) or an agent (their own legs).
CREATE INDEX contacts_agency ON contacts (agency_id, case_id);
CREATE INDEX contacts_queue ON contacts (queue_id, case_id);
CREATE INDEX contacts_agent ON contacts (agent, case_id);
CREATE INDEX requeued_legs_agency ON requeued_legs (agency_id, case_id);
CREATE INDEX requeued_legs_agent ON requeued_legs (agent, case_id);

-- Who read what (DESIGN invariant 7): one row per transcript search, read
-- and export, written before the answer. Kept apart from the case log and
-- longer than it: purging a case keeps the record that it was read.
CREATE TABLE access_audit (
	id          INTEGER PRIMARY KEY AUTOINCREMENT,
	at          TIMESTAMP NOT NULL,
	username    TEXT NOT NULL,
	role        TEXT NOT NULL,
	agency_id   TEXT NOT NULL, -- the reader's agency, '' for an admin
	client_addr TEXT NOT NULL,
	action      TEXT NOT NULL, -- search | read | export
	case_id     TEXT NOT NULL, -- '' for a search
	query       TEXT NOT NULL, -- a search's filters, as a query string
	format      TEXT NOT NULL, -- an export's format
	reason      TEXT NOT NULL, -- why (required for an export)
	outcome     TEXT NOT NULL  -- ok | denied | not_found
);
CREATE INDEX access_audit_at ON access_audit (at, id);
CREATE INDEX access_audit_user ON access_audit (username, at, id);
CREATE INDEX access_audit_case ON access_audit (case_id, at, id);
