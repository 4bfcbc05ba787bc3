-- Deploys users can trust: config vars, formation, stop state and volumes on
-- apps; the config, app.json manifest and a description on every release.

ALTER TABLE apps ADD COLUMN config TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(config));
ALTER TABLE apps ADD COLUMN formation TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(formation));
ALTER TABLE apps ADD COLUMN stopped INTEGER NOT NULL DEFAULT 0 CHECK (stopped IN (0, 1));
ALTER TABLE apps ADD COLUMN volumes TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(volumes));

ALTER TABLE releases ADD COLUMN config TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(config));
ALTER TABLE releases ADD COLUMN manifest TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(manifest));
ALTER TABLE releases ADD COLUMN description TEXT NOT NULL DEFAULT '';
