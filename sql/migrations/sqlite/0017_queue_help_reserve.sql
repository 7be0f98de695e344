-- A queue's reserve before its agents help other queues (package
-- directory, the router's HelpWhile.MinIdle): its agents take contacts
-- overflowed into it only while more than help_min_idle of them are free.
-- 0: no reserve, they always help.
ALTER TABLE queues ADD COLUMN help_min_idle INTEGER NOT NULL DEFAULT 0;
