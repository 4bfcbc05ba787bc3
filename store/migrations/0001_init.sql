-- The spine: apps, their numbered releases, and the SSH keys allowed in.
-- Times are UTC RFC 3339 text with nanoseconds (time.RFC3339Nano).

CREATE TABLE apps (
	name       TEXT PRIMARY KEY,
	created_at TEXT NOT NULL,
	-- version of the current release; 0 = never deployed
	release    INTEGER NOT NULL DEFAULT 0 CHECK (release >= 0)
) STRICT;

CREATE TABLE releases (
	app        TEXT NOT NULL REFERENCES apps (name) ON DELETE CASCADE,
	version    INTEGER NOT NULL CHECK (version > 0),
	image      TEXT NOT NULL,
	stack      TEXT NOT NULL,
	commit_sha TEXT NOT NULL,
	-- process type -> command, as a JSON object
	processes  TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(processes)),
	created_by TEXT NOT NULL,
	created_at TEXT NOT NULL,
	PRIMARY KEY (app, version)
) STRICT;

CREATE TABLE ssh_keys (
	name        TEXT PRIMARY KEY,
	fingerprint TEXT NOT NULL UNIQUE,
	public_key  TEXT NOT NULL,
	created_at  TEXT NOT NULL
) STRICT;
