-- Opening hours and priority aging (package directory). An agency has a
-- time zone (IANA name) and a holiday calendar (a JSON array of
-- {"date","name"}); a queue has weekly opening hours (a JSON object of
-- weekday ranges, '' for none: always open) and aging_s (0: off).
ALTER TABLE agencies ADD COLUMN time_zone TEXT NOT NULL DEFAULT 'Asia/Seoul';
ALTER TABLE agencies ADD COLUMN holidays TEXT NOT NULL DEFAULT '[]';
ALTER TABLE queues ADD COLUMN hours TEXT NOT NULL DEFAULT '';
ALTER TABLE queues ADD COLUMN aging_s INTEGER NOT NULL DEFAULT 0;

-- The wallboard's minute samples say whether the queue was closed then.
ALTER TABLE queue_samples ADD COLUMN closed BOOLEAN NOT NULL DEFAULT FALSE;
