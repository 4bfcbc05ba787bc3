-- How many times an app was restarted (ps:restart): each machine that runs
-- it replaces the instances it started before the last restart.
ALTER TABLE apps ADD COLUMN restarts INTEGER NOT NULL DEFAULT 0;
