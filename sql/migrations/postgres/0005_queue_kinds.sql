-- Queue kinds and callback retries (package directory). A queue is a
-- citizens' line ('service') or holds interpreters whom agents bring into
-- their contacts ('interpreter'). A callback nobody answered is tried
-- again callback_retries times, callback_retry_s seconds apart. Existing
-- queues become service queues with the defaults.
ALTER TABLE queues ADD COLUMN kind TEXT NOT NULL DEFAULT 'service';
ALTER TABLE queues ADD COLUMN callback_retries INTEGER NOT NULL DEFAULT 2;
ALTER TABLE queues ADD COLUMN callback_retry_s INTEGER NOT NULL DEFAULT 300;
