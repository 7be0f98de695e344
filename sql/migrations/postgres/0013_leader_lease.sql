-- The leader's lease: one row, renewed by the node that routes. Its
-- expiry is on the database's clock, so no node's clock decides who leads.
CREATE TABLE leader_lease (
	id INTEGER PRIMARY KEY CHECK (id = 1),
	node_id TEXT NOT NULL,
	address TEXT NOT NULL,
	epoch BIGINT NOT NULL CHECK (epoch > 0),
	schema_version INTEGER NOT NULL,
	expires_at TIMESTAMPTZ NOT NULL,
	renewed_at TIMESTAMPTZ NOT NULL
);

-- An epoch only grows: a row edited back to a past epoch would let a
-- deposed leader's fencing pass again.
CREATE FUNCTION leader_lease_epoch_grows() RETURNS trigger AS $$
BEGIN
	IF NEW.epoch < OLD.epoch THEN
		RAISE EXCEPTION 'leader_lease: epoch % may not go back to %', OLD.epoch, NEW.epoch;
	END IF;
	RETURN NEW;
END $$ LANGUAGE plpgsql;

CREATE TRIGGER leader_lease_epoch_grows BEFORE UPDATE ON leader_lease
	FOR EACH ROW EXECUTE FUNCTION leader_lease_epoch_grows();

-- Every running node, leader or standby, with its advertised address:
-- two live processes with one node id refuse, and the leader trusts a
-- forwarded client address only from these addresses.
CREATE TABLE lease_nodes (
	node_id TEXT PRIMARY KEY,
	instance TEXT NOT NULL,
	address TEXT NOT NULL,
	seen_at TIMESTAMPTZ NOT NULL
);
