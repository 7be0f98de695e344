-- Reports over any dates (package transcripts, ReadRange) read the legs
-- that were open at some moment of the range: enqueued before its end and
-- not ended before its start (or still open). A report of recent dates
-- finds them from ended_at (which holds NULL for an open leg); one of old
-- dates from enqueued_at. The transfers of the range are read by time.
CREATE INDEX contacts_ended ON contacts (ended_at);
CREATE INDEX contacts_enqueued ON contacts (enqueued_at);
CREATE INDEX requeued_legs_ended ON requeued_legs (ended_at);
CREATE INDEX requeued_legs_enqueued ON requeued_legs (enqueued_at);
CREATE INDEX case_events_transfers ON case_events (at) WHERE type = 'transfer';
