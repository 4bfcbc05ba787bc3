-- Idle apps sleep: a per-app sleep policy set by command (empty = from
-- app.json or the daemon's defaults) and the sleep state pier put the app in.

ALTER TABLE apps ADD COLUMN sleep_policy TEXT NOT NULL DEFAULT '' CHECK (sleep_policy = '' OR json_valid(sleep_policy));
ALTER TABLE apps ADD COLUMN sleep_state TEXT NOT NULL DEFAULT '' CHECK (sleep_state IN ('', 'frozen', 'stopped'));
