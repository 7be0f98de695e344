-- The idempotency key a contact was made with (POST /v1/contacts'
-- Idempotency-Key): a retry of the same request by the same identity gets
-- the same contact back, across a restart too.
ALTER TABLE contacts ADD COLUMN idempotency_key TEXT NOT NULL DEFAULT '';
