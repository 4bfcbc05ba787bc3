-- Routing rules users set per app: custom domains (each routed to one app)
-- and access rules (HTTP basic auth users with bcrypt hashes, allowed
-- client networks) as JSON.

CREATE TABLE domains (
	domain TEXT PRIMARY KEY,
	app    TEXT NOT NULL REFERENCES apps (name) ON DELETE CASCADE
) STRICT;

CREATE INDEX domains_by_app ON domains (app);

ALTER TABLE apps ADD COLUMN access TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(access));
