-- Admin: keys limited to one app, per-app resource limits, and the audit
-- log of every change (who, when, what).

ALTER TABLE ssh_keys ADD COLUMN app TEXT NOT NULL DEFAULT '';
ALTER TABLE apps ADD COLUMN limits TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(limits));

CREATE TABLE events (
	id     INTEGER PRIMARY KEY AUTOINCREMENT,
	at     TEXT NOT NULL,
	who    TEXT NOT NULL,
	-- the app the change was about, '' for installation-wide changes
	app    TEXT NOT NULL DEFAULT '',
	action TEXT NOT NULL,
	detail TEXT NOT NULL DEFAULT ''
) STRICT;

CREATE INDEX events_by_app ON events (app, id);
