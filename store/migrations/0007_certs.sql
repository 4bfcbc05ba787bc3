-- Certificates: certmagic's storage (certificates, keys, the ACME account,
-- pier's internal CA) as key/value rows, and the locks certmagic takes
-- around issuance. A lock expires unless its holder keeps renewing it, so a
-- holder that crashed blocks nobody for long.

CREATE TABLE cert_values (
	key      TEXT PRIMARY KEY,
	value    BLOB NOT NULL,
	modified TEXT NOT NULL
) STRICT;

CREATE TABLE cert_locks (
	name    TEXT PRIMARY KEY,
	-- who holds it: a random token per lock taken
	holder  TEXT NOT NULL,
	-- Unix nanoseconds; past it, anyone may take the lock
	expires INTEGER NOT NULL
) STRICT;
