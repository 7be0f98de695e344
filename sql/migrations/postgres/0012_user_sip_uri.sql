-- An agent's phone (package directory): the SIP address a telephony edge
-- rings to bridge a call to them. Empty: the edge rings the phone the
-- agent registered with it under their username.
ALTER TABLE users ADD COLUMN sip_uri TEXT NOT NULL DEFAULT '';
