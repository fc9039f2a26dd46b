-- The scanner's memory: one row per file or object it has seen.
--
-- A row is reused as long as the file's size and version (mtime in nanoseconds for a local
-- file, the ETag for an object) are unchanged: its hashes are not computed again. Its answer is
-- reused as long as the check context (server, distance, dihedral) is the same and the
-- server's index_seq has not grown since `checked_seq`.
CREATE TABLE files (
    location     TEXT PRIMARY KEY NOT NULL, -- absolute path, or s3://bucket/key
    source       TEXT NOT NULL,             -- the root it was found under, as scanned
    size         INTEGER NOT NULL,
    version      TEXT NOT NULL,
    md5          BLOB,                       -- NULL when the file could not be read
    sha1         BLOB,
    sha256       BLOB,
    pdq          BLOB,                       -- 32 bytes; with --dihedral, 8 x 32 bytes
    quality      INTEGER,
    format       TEXT,
    width        INTEGER,
    height       INTEGER,
    rejected     TEXT,                       -- why no PDQ: not an image, malformed, too large...
    rejected_detail TEXT,                    -- the decoder's or the OS's words
    hashed_at    INTEGER NOT NULL,           -- unix milliseconds
    context      TEXT,                       -- server + distance + dihedral of the last check
    checked_seq  INTEGER,                    -- the answer's index_seq; NULL: not checked yet
    matches      TEXT,                       -- JSON array of matches, NULL when none
    quarantined  TEXT                        -- where the file was moved to, if it was
);

CREATE INDEX files_source ON files (source);
