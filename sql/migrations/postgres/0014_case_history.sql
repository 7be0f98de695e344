-- A returning caller's earlier cases (package transcripts, Review.Earlier):
-- the closed cases of one identity, newest first, found by the identity's
-- keyed digest without a scan of every case.
CREATE INDEX cases_identity ON cases (identity, closed_at) WHERE status = 'closed' AND identity <> '';
