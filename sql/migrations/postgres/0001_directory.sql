-- The directory: agencies, their queues, users and login sessions.
CREATE TABLE agencies (
	id          TEXT PRIMARY KEY,
	name        TEXT NOT NULL,
	description TEXT NOT NULL DEFAULT '',
	created_at  TIMESTAMPTZ NOT NULL,
	updated_at  TIMESTAMPTZ NOT NULL
);

CREATE TABLE queues (
	id                  TEXT PRIMARY KEY,
	agency_id           TEXT NOT NULL REFERENCES agencies (id) ON DELETE RESTRICT,
	name                TEXT NOT NULL,
	channels            TEXT NOT NULL,
	required_skills     TEXT NOT NULL,
	strategy            TEXT NOT NULL,
	offer_timeout_s     INTEGER NOT NULL,
	wrapup_s            INTEGER NOT NULL,
	widen_after_s       INTEGER NOT NULL,
	overflow_policy     TEXT NOT NULL,
	sla_answer_within_s INTEGER NOT NULL,
	sla_target_pct      INTEGER NOT NULL,
	callback_after_s    INTEGER NOT NULL,
	max_waiting         INTEGER NOT NULL,
	public              BOOLEAN NOT NULL,
	created_at          TIMESTAMPTZ NOT NULL,
	updated_at          TIMESTAMPTZ NOT NULL
);
CREATE INDEX queues_agency ON queues (agency_id, id);

-- Overflow rules are rows, not JSON, so that a target queue cannot vanish
-- while a rule still points at it (ON DELETE RESTRICT).
CREATE TABLE queue_overflow (
	queue_id    TEXT NOT NULL REFERENCES queues (id) ON DELETE CASCADE,
	position    INTEGER NOT NULL,
	after_s     INTEGER NOT NULL,
	to_queue_id TEXT NOT NULL REFERENCES queues (id) ON DELETE RESTRICT,
	PRIMARY KEY (queue_id, position)
);
CREATE INDEX queue_overflow_to ON queue_overflow (to_queue_id);

CREATE TABLE users (
	username      TEXT PRIMARY KEY,
	name          TEXT NOT NULL,
	password_hash TEXT NOT NULL,
	role          TEXT NOT NULL,
	agency_id     TEXT REFERENCES agencies (id) ON DELETE RESTRICT,
	skills        TEXT NOT NULL,
	max_chats     INTEGER NOT NULL,
	pii           BOOLEAN NOT NULL,
	created_at    TIMESTAMPTZ NOT NULL,
	updated_at    TIMESTAMPTZ NOT NULL
);
CREATE INDEX users_agency ON users (agency_id, username);

CREATE TABLE user_queues (
	username TEXT NOT NULL REFERENCES users (username) ON DELETE CASCADE,
	queue_id TEXT NOT NULL REFERENCES queues (id) ON DELETE CASCADE,
	level    INTEGER NOT NULL,
	PRIMARY KEY (username, queue_id)
);
CREATE INDEX user_queues_queue ON user_queues (queue_id);

-- A session token is "<id>.<secret>"; only a hash of the secret is stored.
CREATE TABLE sessions (
	id          TEXT PRIMARY KEY,
	secret_hash TEXT NOT NULL,
	username    TEXT NOT NULL REFERENCES users (username) ON DELETE CASCADE,
	client_addr TEXT NOT NULL,
	created_at  TIMESTAMPTZ NOT NULL,
	expires_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX sessions_username ON sessions (username);
CREATE INDEX sessions_expires ON sessions (expires_at);
