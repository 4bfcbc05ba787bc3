-- Cron: each release's scheduled jobs, the entries users suspended, and the
-- history of runs (observed state; the store keeps the newest per entry).

ALTER TABLE releases ADD COLUMN cron TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(cron));

CREATE TABLE cron_suspended (
	app   TEXT NOT NULL REFERENCES apps (name) ON DELETE CASCADE,
	-- an entry ID, or '*' for every entry of the app
	entry TEXT NOT NULL,
	PRIMARY KEY (app, entry)
) STRICT;

CREATE TABLE cron_runs (
	id           INTEGER PRIMARY KEY AUTOINCREMENT,
	app          TEXT NOT NULL REFERENCES apps (name) ON DELETE CASCADE,
	entry        TEXT NOT NULL,
	command      TEXT NOT NULL,
	trigger      TEXT NOT NULL CHECK (trigger IN ('schedule', 'manual')),
	scheduled_at TEXT NOT NULL,
	started_at   TEXT NOT NULL,
	-- '' while running
	ended_at     TEXT NOT NULL DEFAULT '',
	-- -1: no exit status (running, skipped, killed)
	exit_code    INTEGER NOT NULL DEFAULT -1,
	status       TEXT NOT NULL CHECK (status IN
		('running', 'succeeded', 'failed', 'timed out', 'replaced', 'interrupted', 'skipped')),
	-- the last 64 KiB of output
	output       TEXT NOT NULL DEFAULT ''
) STRICT;

CREATE INDEX cron_runs_by_entry ON cron_runs (app, entry, id);
