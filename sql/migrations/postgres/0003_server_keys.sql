-- Keys the servers of one deployment share (citizen-token HMAC, say),
-- made once at first use; base64 text.
CREATE TABLE server_keys (
	name  TEXT PRIMARY KEY,
	value TEXT NOT NULL
);
