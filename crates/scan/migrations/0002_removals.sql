-- Matches the scanner moved to quarantine, counted for the service: `POST /v1/check/removals`
-- tells the hotline's monitor how many matched files the hoster took offline on its own
-- initiative. A row is written in the same transaction as the files it counts, and marked
-- when the service has it, so a failed or interrupted report is sent by the next run.
CREATE TABLE own_removals (
    at          INTEGER NOT NULL,  -- unix milliseconds of the move
    count       INTEGER NOT NULL,
    reported_at INTEGER            -- NULL until the service has recorded it
);
