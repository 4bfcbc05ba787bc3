-- Dashboard: installation-wide settings, such as the admin password's hash.

CREATE TABLE settings (
	key   TEXT PRIMARY KEY,
	value TEXT NOT NULL
) STRICT;
