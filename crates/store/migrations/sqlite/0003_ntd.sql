-- Notice and takedown, part 1: the hosters register, cases, reports, the case timeline and
-- the attribution data an operator loads.

-- The hotline's register of hosting providers and CDNs. Its fields (ASNs, prefixes, abuse
-- addresses, notice channel, code-of-conduct membership, CDN flag, ...) are one JSON
-- document, checked by the ntd crate on the way in.
CREATE TABLE hosters (
    id         INTEGER PRIMARY KEY,
    name       TEXT    NOT NULL UNIQUE,
    fields     TEXT    NOT NULL,
    updated_at INTEGER NOT NULL,
    updated_by TEXT    NOT NULL
);

-- One case per normalised URL while it is open (new, assessing, actionable, notified):
-- the partial unique index is what makes a second report join the first one's case, even
-- when two replicas take reports of the same URL at once.
CREATE TABLE cases (
    id            INTEGER PRIMARY KEY,
    url           TEXT    NOT NULL,
    host          TEXT    NOT NULL,
    category      TEXT    NOT NULL,
    state         TEXT    NOT NULL,
    is_open       INTEGER NOT NULL,
    opened_at     INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    reports       INTEGER NOT NULL DEFAULT 0,
    sources       TEXT    NOT NULL DEFAULT '',
    hoster_id     INTEGER REFERENCES hosters (id),
    hoster_name   TEXT,
    hoster_manual INTEGER NOT NULL DEFAULT 0,
    country       TEXT,
    forwarded_to  TEXT,
    attributed_at INTEGER,
    attribution   TEXT,
    -- When attribution may next be claimed (NULL: not due). A claim moves it forward by the
    -- lease, so a replica that dies mid-round leaves the case to the next one.
    attr_due      INTEGER
);
CREATE UNIQUE INDEX cases_open_url ON cases (url) WHERE is_open = 1;
CREATE INDEX cases_state ON cases (state, opened_at, id);
CREATE INDEX cases_opened ON cases (opened_at, id);
CREATE INDEX cases_attr_due ON cases (attr_due) WHERE attr_due IS NOT NULL;
CREATE INDEX cases_hoster ON cases (hoster_id, opened_at);

CREATE TABLE reports (
    id           INTEGER PRIMARY KEY,
    case_id      INTEGER NOT NULL REFERENCES cases (id),
    at           INTEGER NOT NULL,
    reference    TEXT    NOT NULL UNIQUE,
    url          TEXT    NOT NULL,
    category     TEXT    NOT NULL,
    source       TEXT    NOT NULL,
    actor        TEXT    NOT NULL,
    org_id       INTEGER,
    contact      TEXT,
    text         TEXT,
    external_ref TEXT
);
CREATE INDEX reports_case ON reports (case_id, id);
CREATE INDEX reports_source ON reports (source, case_id);

-- The timeline: every change of a case, with actor and time, written with the change.
CREATE TABLE case_events (
    id         INTEGER PRIMARY KEY,
    case_id    INTEGER NOT NULL REFERENCES cases (id),
    at         INTEGER NOT NULL,
    actor      TEXT    NOT NULL,
    kind       TEXT    NOT NULL,
    from_state TEXT,
    to_state   TEXT,
    message    TEXT    NOT NULL,
    detail     TEXT    NOT NULL DEFAULT '{}'
);
CREATE INDEX case_events_case ON case_events (case_id, id);

-- Attribution data (ip2asn rows, RIR networks and AS objects) in chunks of JSON records,
-- replaced whole in one transaction by `schoon attribution load`.
CREATE TABLE attr_chunks (
    kind TEXT    NOT NULL,
    n    INTEGER NOT NULL,
    body TEXT    NOT NULL,
    PRIMARY KEY (kind, n)
);
CREATE TABLE attr_sources (
    kind      TEXT    PRIMARY KEY,
    files     TEXT    NOT NULL,
    loaded_at INTEGER NOT NULL,
    loaded_by TEXT    NOT NULL,
    records   INTEGER NOT NULL,
    sha256    TEXT    NOT NULL
);
-- Bumped by every change of the data or the register, so attributors know to rebuild.
CREATE TABLE attr_version (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    value INTEGER NOT NULL
);
INSERT INTO attr_version (id, value) VALUES (1, 0);
