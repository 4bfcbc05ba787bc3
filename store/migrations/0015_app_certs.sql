-- Certificates apps' owners brought (certs:add), served for the app's own
-- hosts instead of obtained ones: PEM chain and key.
CREATE TABLE app_certs (
	app      TEXT PRIMARY KEY REFERENCES apps (name) ON DELETE CASCADE,
	cert     TEXT NOT NULL,
	key      TEXT NOT NULL,
	added_at TEXT NOT NULL
) STRICT;
