-- The wallboard's history (package stats): each queue's figures once a
-- minute, written as they are sampled so that a restarted server shows the
-- day's charts from midnight, with a gap only where it was down. (queue_id,
-- at) makes a retried write of the same minute a no-op; the index on at
-- serves the load of today's samples and the retention's delete.
--
-- No foreign key to queues: a deleted queue's samples age out with the
-- rest, and a minute's batch never fails for a queue deleted meanwhile.
CREATE TABLE queue_samples (
	queue_id          TEXT NOT NULL,
	at                TIMESTAMP NOT NULL, -- the start of the minute
	waiting           INTEGER NOT NULL,
	longest_wait_s    INTEGER NOT NULL,
	service_level_pct REAL, -- null while nothing counts
	answered          INTEGER NOT NULL,
	abandoned         INTEGER NOT NULL,
	PRIMARY KEY (queue_id, at)
);
CREATE INDEX queue_samples_at ON queue_samples (at);
