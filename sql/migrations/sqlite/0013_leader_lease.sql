-- The leader's lease (see the PostgreSQL migration). The embedded
-- database runs one server, held by a lock on its file, so these tables
-- stay empty here; they exist so both backends share one schema version.
CREATE TABLE leader_lease (
	id INTEGER PRIMARY KEY CHECK (id = 1),
	node_id TEXT NOT NULL,
	address TEXT NOT NULL,
	epoch BIGINT NOT NULL CHECK (epoch > 0),
	schema_version INTEGER NOT NULL,
	expires_at TIMESTAMP NOT NULL,
	renewed_at TIMESTAMP NOT NULL
);

CREATE TRIGGER leader_lease_epoch_grows BEFORE UPDATE ON leader_lease
	FOR EACH ROW WHEN NEW.epoch < OLD.epoch
	BEGIN SELECT RAISE(ABORT, 'leader_lease: epoch may not go back'); END;

CREATE TABLE lease_nodes (
	node_id TEXT PRIMARY KEY,
	instance TEXT NOT NULL,
	address TEXT NOT NULL,
	seen_at TIMESTAMP NOT NULL
);
