-- The export permission (package directory): taking a transcript or a
-- recording away (an export, a download) needs it. Admins and supervisors
-- could export before it existed, so they keep it; everyone else, and
-- every user created from now on, starts without it.
ALTER TABLE users ADD COLUMN can_export INTEGER NOT NULL DEFAULT 0;
UPDATE users SET can_export = 1 WHERE role IN ('admin', 'supervisor');
