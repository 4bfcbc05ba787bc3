-- How a deploy checks an app's new processes, by type (checks:skip,
-- checks:disable): {"web": "skip"}; "*" stands for every type.
ALTER TABLE apps ADD COLUMN checks TEXT NOT NULL DEFAULT '{}';
