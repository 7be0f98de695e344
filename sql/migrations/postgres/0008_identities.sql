-- Identities (package router): who a case and each contact are known to
-- come from — a keyed digest of the number the phone network asserted, or
-- of one chat device — never what a chat user typed. They key the one-place
-- rule and who may continue a case without its continuation token. Origin
-- is the citizen's first contact of a chain of legs (transfers, second-line
-- callbacks), whose citizen token reaches the chain and nothing else.
-- Rows written before this migration have none: they hold no place and
-- their cases continue only with a token.
ALTER TABLE cases ADD COLUMN identity TEXT NOT NULL DEFAULT '';
ALTER TABLE contacts ADD COLUMN identity TEXT NOT NULL DEFAULT '';
ALTER TABLE contacts ADD COLUMN origin TEXT NOT NULL DEFAULT '';

-- The access audit also records refused attempts on citizens' contacts and
-- cases: action 'continue' (a new contact on someone's case) and 'contact'
-- (reading, following, ending or changing a live contact).
