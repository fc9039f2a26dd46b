-- Notice and takedown, part 2: notices (and reminders and escalations) with their outbox,
-- the notice timers on cases, re-checks, hoster responses and the operator's templates.

-- Timers and facts on the case. Each timer is a due instant (NULL: not due); a worker
-- claims a due timer by moving it forward by a lease, so replicas never run one twice at
-- once and a crashed worker's timer comes due again.
ALTER TABLE cases ADD COLUMN notified_at   INTEGER;  -- when the first notice was sent
ALTER TABLE cases ADD COLUMN remind_at     INTEGER;  -- reminder due (cleared when queued)
ALTER TABLE cases ADD COLUMN escalate_at   INTEGER;  -- escalation due (cleared when queued)
ALTER TABLE cases ADD COLUMN reminded_at   INTEGER;
ALTER TABLE cases ADD COLUMN escalated_at  INTEGER;
ALTER TABLE cases ADD COLUMN check_at      INTEGER;  -- next re-check due
ALTER TABLE cases ADD COLUMN checks        INTEGER NOT NULL DEFAULT 0;
ALTER TABLE cases ADD COLUMN last_verdict  TEXT;
ALTER TABLE cases ADD COLUMN removed_at    INTEGER;  -- the first verified offline check after the notice
ALTER TABLE cases ADD COLUMN hoster_said   TEXT;     -- the hoster's latest answer: removed, not_host, dispute
ALTER TABLE cases ADD COLUMN hoster_said_at INTEGER;
ALTER TABLE cases ADD COLUMN baseline      TEXT;     -- JSON {sha256, pdq} of the content first seen online
CREATE INDEX cases_check_at ON cases (check_at) WHERE check_at IS NOT NULL;
CREATE INDEX cases_remind_at ON cases (remind_at) WHERE remind_at IS NOT NULL;
CREATE INDEX cases_escalate_at ON cases (escalate_at) WHERE escalate_at IS NOT NULL;

-- One message (e-mail or webhook call) to one party about one or more cases. It is
-- rendered when queued: what goes out is exactly what was queued and previewed.
CREATE TABLE notices (
    id          INTEGER PRIMARY KEY,
    reference   TEXT    NOT NULL UNIQUE,
    kind        TEXT    NOT NULL,           -- notice, reminder, escalation
    hoster_id   INTEGER NOT NULL REFERENCES hosters (id),
    channel     TEXT    NOT NULL,           -- email, webhook
    recipients  TEXT    NOT NULL,           -- JSON array of addresses, or the webhook URL
    subject     TEXT    NOT NULL,
    body        TEXT    NOT NULL,
    json        TEXT    NOT NULL,
    status      TEXT    NOT NULL,           -- queued, sent, failed
    queued_at   INTEGER NOT NULL,
    due_at      INTEGER,                    -- next attempt; NULL once sent or failed
    attempts    INTEGER NOT NULL DEFAULT 0,
    last_error  TEXT,
    sent_at     INTEGER,
    message_id  TEXT
);
CREATE INDEX notices_due ON notices (due_at) WHERE due_at IS NOT NULL;
CREATE INDEX notices_hoster ON notices (hoster_id, queued_at);

-- Which cases a notice is about. The unique key is the "never twice for the same case step"
-- rule: one notice, one reminder, one escalation per case and party, whoever plans it.
CREATE TABLE notice_cases (
    notice_id INTEGER NOT NULL REFERENCES notices (id),
    case_id   INTEGER NOT NULL REFERENCES cases (id),
    kind      TEXT    NOT NULL,
    hoster_id INTEGER NOT NULL,
    PRIMARY KEY (notice_id, case_id),
    UNIQUE (case_id, kind, hoster_id)
);
CREATE INDEX notice_cases_hoster ON notice_cases (hoster_id, kind, case_id);

-- Re-checks: what an HTTP check of the URL found. Never the body.
CREATE TABLE case_checks (
    id       INTEGER PRIMARY KEY,
    case_id  INTEGER NOT NULL REFERENCES cases (id),
    at       INTEGER NOT NULL,
    verdict  TEXT    NOT NULL,
    reason   TEXT    NOT NULL,
    status   INTEGER,
    detail   TEXT    NOT NULL             -- JSON: hops, address, content hashes, bytes, millis
);
CREATE INDEX case_checks_case ON case_checks (case_id, id);

-- Operator-edited notice templates (the built-in text is used for a kind without a row).
CREATE TABLE notice_templates (
    kind       TEXT    PRIMARY KEY,
    subject    TEXT    NOT NULL,
    body       TEXT    NOT NULL,
    updated_at INTEGER NOT NULL,
    updated_by TEXT    NOT NULL
);

-- Secrets every replica shares (the key that signs portal links), made on first use.
CREATE TABLE ntd_secrets (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
