-- The machines of a cluster that run an app (a JSON array of names);
-- empty on a single machine.
ALTER TABLE apps ADD COLUMN placement TEXT NOT NULL DEFAULT '[]';
