-- Schoon's hash-check schema, SQLite flavour. Instants are INTEGER milliseconds since the Unix
-- epoch (UTC), hashes are BLOBs, hash kinds are 1 md5, 2 sha1, 3 sha256, 4 pdq.

CREATE TABLE organisations (
    id         INTEGER PRIMARY KEY,
    name       TEXT    NOT NULL UNIQUE,
    kind       TEXT    NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE TABLE api_keys (
    id            TEXT    PRIMARY KEY,
    org_id        INTEGER NOT NULL REFERENCES organisations (id),
    role          TEXT    NOT NULL,
    name          TEXT    NOT NULL,
    secret_sha256 BLOB    NOT NULL,
    rate_per_sec  INTEGER,
    created_at    INTEGER NOT NULL,
    revoked_at    INTEGER
);

CREATE TABLE categories (
    name TEXT PRIMARY KEY
);
INSERT INTO categories (name) VALUES ('csam'), ('terrorism'), ('ncii'), ('other');

CREATE TABLE lists (
    id           INTEGER PRIMARY KEY,
    name         TEXT    NOT NULL UNIQUE,
    owner_org_id INTEGER NOT NULL REFERENCES organisations (id),
    category     TEXT    NOT NULL REFERENCES categories (name),
    description  TEXT    NOT NULL,
    source       TEXT    NOT NULL,
    version      INTEGER NOT NULL,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
);

-- One row per change of a list. `seq` is the installation-wide change sequence.
CREATE TABLE list_versions (
    list_id    INTEGER NOT NULL REFERENCES lists (id),
    version    INTEGER NOT NULL,
    seq        INTEGER NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    actor      TEXT    NOT NULL,
    mode       TEXT    NOT NULL,
    added      INTEGER NOT NULL,
    removed    INTEGER NOT NULL,
    note       TEXT    NOT NULL,
    PRIMARY KEY (list_id, version)
);

-- An entry is on its list from added_version up to (not including) removed_version. Removing
-- keeps the row, so every past version can be listed again. Entries are only written by the
-- import transaction, which holds the change_seq row lock: at most one live row per
-- (list, kind, hash) follows from that.
CREATE TABLE entries (
    id              INTEGER PRIMARY KEY,
    list_id         INTEGER NOT NULL REFERENCES lists (id),
    kind            INTEGER NOT NULL,
    hash            BLOB    NOT NULL,
    quality         INTEGER,
    ext_ref         TEXT,
    added_version   INTEGER NOT NULL,
    added_seq       INTEGER NOT NULL,
    removed_version INTEGER,
    removed_seq     INTEGER
);
CREATE INDEX entries_key ON entries (list_id, kind, hash);
CREATE INDEX entries_added_seq ON entries (added_seq, id);
CREATE INDEX entries_removed_seq ON entries (removed_seq, id) WHERE removed_seq IS NOT NULL;

CREATE TABLE change_seq (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    value INTEGER NOT NULL
);
INSERT INTO change_seq (id, value) VALUES (1, 0);

CREATE TABLE audit_log (
    id      INTEGER PRIMARY KEY,
    at      INTEGER NOT NULL,
    key_id  TEXT    NOT NULL,
    org_id  INTEGER NOT NULL,
    action  TEXT    NOT NULL,
    count   INTEGER NOT NULL,
    matches INTEGER NOT NULL,
    detail  TEXT    NOT NULL
);
CREATE INDEX audit_log_at ON audit_log (at);
