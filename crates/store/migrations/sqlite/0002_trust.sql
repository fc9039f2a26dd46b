-- Trust in the lists: entry provenance and status, what matched whom, allowlists, flood alerts,
-- disputes, retraction notices and the e-mail outbox.

-- Where alerts and notices for an organisation go.
ALTER TABLE organisations ADD COLUMN email TEXT;

-- 'block': matches are reported. 'allow': known-benign hashes; a check that hits one answers
-- "no match" and records the conflict.
ALTER TABLE lists ADD COLUMN purpose TEXT NOT NULL DEFAULT 'block';

-- Provenance beyond what the adding list version (actor, time, note) says, and the status.
-- Only 'active' entries are in the check index; 'held' (waiting for review), 'suspended'
-- (taken out of checks, e.g. by the flood rule) and 'retracted' (judged wrong) are not.
-- initial_status is the status the import gave, so a replica replaying the change feed adds
-- exactly the entries that were active when they were added.
ALTER TABLE entries ADD COLUMN confirmations INTEGER NOT NULL DEFAULT 0;
ALTER TABLE entries ADD COLUMN status TEXT NOT NULL DEFAULT 'active';
ALTER TABLE entries ADD COLUMN initial_status TEXT NOT NULL DEFAULT 'active';
ALTER TABLE entries ADD COLUMN hold_reason TEXT;
CREATE INDEX entries_status ON entries (list_id, status, id) WHERE status <> 'active';

-- Every status change of an entry. A change that alters what checks answer takes a number of
-- the change sequence (seq), so replicas apply it like a list change.
CREATE TABLE entry_events (
    id          INTEGER PRIMARY KEY,
    entry_id    INTEGER NOT NULL REFERENCES entries (id),
    seq         INTEGER,
    at          INTEGER NOT NULL,
    actor       TEXT    NOT NULL,
    from_status TEXT    NOT NULL,
    to_status   TEXT    NOT NULL,
    reason      TEXT    NOT NULL
);
CREATE INDEX entry_events_entry ON entry_events (entry_id, id);
CREATE INDEX entry_events_seq ON entry_events (seq, entry_id) WHERE seq IS NOT NULL;

-- One row per (checked hash, matched entry): what the flood rule counts, what disputes refer
-- to and whom a retraction must reach. allowed_by is the allowlist entry that overrode it.
CREATE TABLE entry_hits (
    id         INTEGER PRIMARY KEY,
    at         INTEGER NOT NULL,
    entry_id   INTEGER NOT NULL,
    org_id     INTEGER NOT NULL,
    key_id     TEXT    NOT NULL,
    query_kind INTEGER NOT NULL,
    query_hash BLOB    NOT NULL,
    distance   INTEGER NOT NULL,
    allowed_by INTEGER
);
CREATE INDEX entry_hits_at ON entry_hits (at);
CREATE INDEX entry_hits_entry ON entry_hits (entry_id, org_id);
CREATE INDEX entry_hits_query ON entry_hits (org_id, query_kind, query_hash);

CREATE TABLE alerts (
    id       INTEGER PRIMARY KEY,
    at       INTEGER NOT NULL,
    kind     TEXT    NOT NULL,
    list_id  INTEGER,
    entry_id INTEGER,
    message  TEXT    NOT NULL,
    detail   TEXT    NOT NULL,
    acked_at INTEGER,
    acked_by TEXT
);
CREATE INDEX alerts_list ON alerts (list_id, id);

CREATE TABLE disputes (
    id          INTEGER PRIMARY KEY,
    created_at  INTEGER NOT NULL,
    org_id      INTEGER NOT NULL REFERENCES organisations (id),
    key_id      TEXT    NOT NULL,
    entry_id    INTEGER NOT NULL REFERENCES entries (id),
    query_kind  INTEGER NOT NULL,
    query_hash  BLOB    NOT NULL,
    reason      TEXT    NOT NULL,
    status      TEXT    NOT NULL,
    resolved_at INTEGER,
    resolved_by TEXT,
    resolution  TEXT
);
CREATE INDEX disputes_entry ON disputes (entry_id);
CREATE INDEX disputes_org ON disputes (org_id, id);

-- Sent to every organisation that matched an entry which was then retracted.
CREATE TABLE retractions (
    id           INTEGER PRIMARY KEY,
    created_at   INTEGER NOT NULL,
    entry_id     INTEGER NOT NULL REFERENCES entries (id),
    org_id       INTEGER NOT NULL REFERENCES organisations (id),
    first_hit_at INTEGER NOT NULL,
    last_hit_at  INTEGER NOT NULL,
    hits         INTEGER NOT NULL,
    reason       TEXT    NOT NULL,
    UNIQUE (entry_id, org_id)
);
CREATE INDEX retractions_org ON retractions (org_id, id);

-- Durable e-mail: written in the transaction that decides to send, sent (and retried) by a
-- background task. `ref` makes queueing idempotent.
CREATE TABLE mail_outbox (
    id         INTEGER PRIMARY KEY,
    created_at INTEGER NOT NULL,
    ref        TEXT    NOT NULL UNIQUE,
    to_addrs   TEXT    NOT NULL,
    subject    TEXT    NOT NULL,
    body       TEXT    NOT NULL,
    json       TEXT,
    attempts   INTEGER NOT NULL DEFAULT 0,
    next_at    INTEGER NOT NULL,
    sent_at    INTEGER,
    failed_at  INTEGER,
    last_error TEXT
);
CREATE INDEX mail_outbox_due ON mail_outbox (next_at) WHERE sent_at IS NULL AND failed_at IS NULL;
