-- The index of the last change applied to this database: every Apply
-- increments it in the change's own transaction, so that a replicated log
-- can later skip entries it already applied.
CREATE TABLE applied (idx INTEGER NOT NULL);
INSERT INTO applied (idx) VALUES (0);
