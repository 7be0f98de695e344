-- Callbacks and interpreters (package router): a contact may wait,
-- scheduled, for a booked slot or a retry (status 'scheduled' until
-- due_at), counts the callback calls nobody answered, and may be an
-- interpreter's conference leg of another contact.
ALTER TABLE contacts ADD COLUMN due_at TIMESTAMP;
ALTER TABLE contacts ADD COLUMN slot INTEGER NOT NULL DEFAULT 0;
ALTER TABLE contacts ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE contacts ADD COLUMN conference_of TEXT NOT NULL DEFAULT '';
