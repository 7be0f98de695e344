-- The access audit also records offers (action 'offer'): an agent offered a
-- contact whose case has history beyond the contact's own start (a
-- transferred or continued case, a re-queued contact, an interpreter's leg)
-- is shown that history. The journal (package transcripts) writes these rows
-- with the router events of the batch that made the offer, so a retried
-- batch writes them again: an offer's natural key, its case and its query
-- (which names the offer id), makes the second write a no-op (ON CONFLICT
-- ... WHERE action = 'offer' DO NOTHING). Other actions may repeat a row.
CREATE UNIQUE INDEX access_audit_offer ON access_audit (case_id, query) WHERE action = 'offer';
