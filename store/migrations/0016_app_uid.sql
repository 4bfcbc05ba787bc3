-- Each app runs under a user ID of its own (app.App.UID), chosen when it is
-- created and kept through renames. Apps made before get theirs in name
-- order, the same on every machine of a cluster.
ALTER TABLE apps ADD COLUMN uid INTEGER NOT NULL DEFAULT 0;
UPDATE apps SET uid = 70000 + (SELECT count(*) FROM apps b WHERE b.name <= apps.name);
CREATE UNIQUE INDEX apps_uid ON apps (uid);
