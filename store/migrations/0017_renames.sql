-- Renames under way on this machine: the journal a rename writes before
-- it moves anything, and clears once the app is whole under its new
-- name. Start-up finishes any rename left here. step is the last step
-- done (app.Service.Rename numbers them).
CREATE TABLE renames (
	from_name  TEXT PRIMARY KEY,
	to_name    TEXT NOT NULL UNIQUE,
	step       INTEGER NOT NULL,
	started_at TEXT NOT NULL
) STRICT;
