-- The monitor: indexes for the takedown statistics, and the non-cooperation list (runs of
-- the rules and their proposals, listings, the list's history, hosters' explanations).

-- The statistics read cases by the instant of their first notice, and look up whether a URL
-- was in an earlier notified case of the same hoster (a repeat: an earlier notice, or the
-- same instant and a lower id). With the id in it the lookup reads only the index; on
-- PostgreSQL that halves the summary of a million cases (SQLite has the rowid anyway).
CREATE INDEX cases_notified ON cases (notified_at) WHERE notified_at IS NOT NULL;
CREATE INDEX cases_hoster_url ON cases (hoster_id, url, notified_at, id);

-- A run of the rules over a window: proposed until an analyst approves or discards it.
CREATE TABLE noncoop_runs (
    id          INTEGER PRIMARY KEY,
    at          INTEGER NOT NULL,
    run_by      TEXT    NOT NULL,           -- a key id, or 'scheduler'
    window_from INTEGER NOT NULL,
    window_to   INTEGER NOT NULL,
    rules       TEXT    NOT NULL,           -- JSON: monitor::Rules
    status      TEXT    NOT NULL,           -- proposed, approved, discarded
    decided_by  TEXT,
    decided_at  INTEGER
);

-- What a run proposes for one hoster, with the figures the analyst decides on.
CREATE TABLE noncoop_proposals (
    run_id    INTEGER NOT NULL REFERENCES noncoop_runs (id),
    hoster_id INTEGER NOT NULL REFERENCES hosters (id),
    action    TEXT    NOT NULL,             -- list, delist
    reasons   TEXT    NOT NULL,             -- JSON: [monitor::Reason]
    figures   TEXT    NOT NULL,             -- JSON: monitor::Figures
    PRIMARY KEY (run_id, hoster_id)
);

-- A hoster's time on the list. The partial unique index allows one current listing per
-- hoster, whoever approves: of two replicas approving at once, the second fails.
CREATE TABLE noncoop_listings (
    id          INTEGER PRIMARY KEY,
    hoster_id   INTEGER NOT NULL REFERENCES hosters (id),
    run_id      INTEGER NOT NULL REFERENCES noncoop_runs (id),
    listed_at   INTEGER NOT NULL,
    listed_by   TEXT    NOT NULL,
    reasons     TEXT    NOT NULL,           -- JSON: [monitor::Reason]
    delisted_at INTEGER,
    delisted_by TEXT,
    delist_run  INTEGER REFERENCES noncoop_runs (id)
);
CREATE UNIQUE INDEX noncoop_listings_current ON noncoop_listings (hoster_id) WHERE delisted_at IS NULL;
CREATE INDEX noncoop_listings_hoster ON noncoop_listings (hoster_id, id);

-- The list's history: listed, delisted, explanation_submitted, explanation_approved,
-- explanation_rejected; written in the transaction of the change.
CREATE TABLE noncoop_events (
    id         INTEGER PRIMARY KEY,
    at         INTEGER NOT NULL,
    hoster_id  INTEGER NOT NULL REFERENCES hosters (id),
    listing_id INTEGER NOT NULL REFERENCES noncoop_listings (id),
    actor      TEXT    NOT NULL,
    kind       TEXT    NOT NULL,
    detail     TEXT    NOT NULL
);
CREATE INDEX noncoop_events_hoster ON noncoop_events (hoster_id, id);

-- A listed hoster's explanation, published beside its entry once an analyst approves it.
CREATE TABLE noncoop_explanations (
    id           INTEGER PRIMARY KEY,
    listing_id   INTEGER NOT NULL REFERENCES noncoop_listings (id),
    hoster_id    INTEGER NOT NULL REFERENCES hosters (id),
    text         TEXT    NOT NULL,
    submitted_at INTEGER NOT NULL,
    submitted_by TEXT    NOT NULL,
    status       TEXT    NOT NULL,          -- pending, approved, rejected
    reviewed_at  INTEGER,
    reviewed_by  TEXT,
    note         TEXT
);
CREATE INDEX noncoop_explanations_status ON noncoop_explanations (status, id);
CREATE INDEX noncoop_explanations_hoster ON noncoop_explanations (hoster_id, id);
CREATE INDEX noncoop_explanations_listing ON noncoop_explanations (listing_id, status, id);
