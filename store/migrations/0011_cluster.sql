-- One-time join tokens of the cluster (pier cluster:token): the SHA-256 of
-- the secret, never the secret.
CREATE TABLE join_tokens (
  id          TEXT PRIMARY KEY,
  secret_hash BLOB NOT NULL,
  role        TEXT NOT NULL,
  expires     TEXT NOT NULL,
  used        INTEGER NOT NULL DEFAULT 0
);
