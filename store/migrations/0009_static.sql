-- A static site's release records the directory of its image the router
-- serves (/app/public, /app/dist or /app); '' for every other release.

ALTER TABLE releases ADD COLUMN static TEXT NOT NULL DEFAULT '';
