//! Versioned schema: `PRAGMA user_version` counts the migrations applied.

use rusqlite::Connection;

pub const VERSION: i64 = 9;

pub enum MigrateError {
    Sqlite(rusqlite::Error),
    TooNew(i64),
}

impl From<rusqlite::Error> for MigrateError {
    fn from(e: rusqlite::Error) -> Self {
        MigrateError::Sqlite(e)
    }
}

const MIGRATIONS: [&str; 9] = [
    r#"
CREATE TABLE campaigns (
    id          INTEGER PRIMARY KEY,
    tag         TEXT NOT NULL UNIQUE,
    base_commit TEXT NOT NULL,
    seed        INTEGER NOT NULL,
    protected   TEXT NOT NULL,
    config      TEXT NOT NULL,
    incumbent   INTEGER,
    created_at  REAL NOT NULL,
    heartbeat   REAL NOT NULL
);
CREATE TABLE experiments (
    id            INTEGER PRIMARY KEY,
    campaign_id   INTEGER NOT NULL REFERENCES campaigns(id),
    number        INTEGER NOT NULL,
    state         TEXT NOT NULL,
    verdict       TEXT,
    reason        TEXT,
    score         REAL,
    metrics       TEXT,
    commit_sha    TEXT,
    parent        TEXT NOT NULL,
    proposer      TEXT NOT NULL,
    title         TEXT NOT NULL,
    params        TEXT,
    lines_added   INTEGER NOT NULL DEFAULT 0,
    lines_removed INTEGER NOT NULL DEFAULT 0,
    finalized     INTEGER NOT NULL DEFAULT 0,
    created_at    REAL NOT NULL,
    updated_at    REAL NOT NULL,
    UNIQUE (campaign_id, number)
);
CREATE TABLE runs (
    id            INTEGER PRIMARY KEY,
    experiment_id INTEGER NOT NULL REFERENCES experiments(id),
    idx           INTEGER NOT NULL,
    seed          INTEGER NOT NULL,
    outcome       TEXT NOT NULL,
    exit_code     INTEGER,
    pid           INTEGER,
    run_dir       TEXT NOT NULL,
    started_at    REAL NOT NULL,
    ended_at      REAL,
    log_tail      TEXT,
    UNIQUE (experiment_id, idx)
);
CREATE TABLE metrics (
    run_id INTEGER NOT NULL REFERENCES runs(id),
    name   TEXT NOT NULL,
    value  REAL,
    PRIMARY KEY (run_id, name)
);
CREATE TABLE events (
    id            INTEGER PRIMARY KEY,
    campaign_id   INTEGER NOT NULL REFERENCES campaigns(id),
    experiment_id INTEGER REFERENCES experiments(id),
    at            REAL NOT NULL,
    kind          TEXT NOT NULL,
    from_state    TEXT,
    to_state      TEXT,
    detail        TEXT
);
CREATE INDEX events_by_experiment ON events(experiment_id);
"#,
    r#"
ALTER TABLE experiments ADD COLUMN stats TEXT;
ALTER TABLE runs ADD COLUMN commit_sha TEXT;
ALTER TABLE runs ADD COLUMN note TEXT;
ALTER TABLE runs ADD COLUMN sandbox TEXT;
"#,
    r#"
ALTER TABLE experiments ADD COLUMN idea TEXT;
ALTER TABLE experiments ADD COLUMN expert TEXT;
ALTER TABLE runs ADD COLUMN job TEXT;
CREATE TABLE transcripts (
    id                INTEGER PRIMARY KEY,
    campaign_id       INTEGER NOT NULL REFERENCES campaigns(id),
    experiment_id     INTEGER REFERENCES experiments(id),
    at                REAL NOT NULL,
    role              TEXT NOT NULL,
    expert            TEXT,
    model             TEXT NOT NULL,
    request           TEXT NOT NULL,
    reply             TEXT,
    prompt_tokens     INTEGER NOT NULL DEFAULT 0,
    completion_tokens INTEGER NOT NULL DEFAULT 0,
    latency_ms        INTEGER NOT NULL DEFAULT 0,
    cost_usd          REAL NOT NULL DEFAULT 0,
    error             TEXT
);
CREATE INDEX transcripts_by_experiment ON transcripts(experiment_id);
"#,
    r#"
CREATE TABLE lessons (
    experiment_id INTEGER PRIMARY KEY REFERENCES experiments(id),
    text          TEXT NOT NULL,
    by_llm        INTEGER NOT NULL,
    at            REAL NOT NULL
);
CREATE TABLE playbook_digests (
    id          INTEGER PRIMARY KEY,
    campaign_id INTEGER NOT NULL REFERENCES campaigns(id),
    through     INTEGER NOT NULL,
    text        TEXT NOT NULL,
    at          REAL NOT NULL
);
"#,
    r#"
CREATE TABLE controls (
    id          INTEGER PRIMARY KEY,
    campaign_id INTEGER NOT NULL REFERENCES campaigns(id),
    command     TEXT NOT NULL,
    arg         TEXT,
    by          TEXT NOT NULL,
    at          REAL NOT NULL,
    taken_at    REAL,
    effect      TEXT
);
CREATE INDEX controls_waiting ON controls(campaign_id, taken_at);
"#,
    r#"
CREATE TABLE literature (
    source TEXT NOT NULL,
    query  TEXT NOT NULL,
    papers TEXT NOT NULL,
    at     REAL NOT NULL,
    PRIMARY KEY (source, query)
);
CREATE TABLE writeups (
    id          INTEGER PRIMARY KEY,
    campaign_id INTEGER NOT NULL REFERENCES campaigns(id),
    kind        TEXT NOT NULL,
    at          REAL NOT NULL,
    path        TEXT,
    model       TEXT,
    temperature REAL,
    prompt_hash TEXT,
    body        TEXT NOT NULL
);
CREATE INDEX writeups_by_campaign ON writeups(campaign_id, kind);
"#,
    r#"
CREATE TABLE projects (
    id          INTEGER PRIMARY KEY,
    campaign_id INTEGER NOT NULL REFERENCES campaigns(id),
    number      INTEGER NOT NULL,
    idea        TEXT NOT NULL,
    expert      TEXT,
    base        TEXT NOT NULL,
    status      TEXT NOT NULL,
    notes       TEXT NOT NULL DEFAULT '',
    dir         TEXT,
    paper       TEXT,
    review      TEXT,
    score       REAL,
    at          REAL NOT NULL,
    UNIQUE (campaign_id, number)
);
ALTER TABLE experiments ADD COLUMN project_id INTEGER REFERENCES projects(id);
ALTER TABLE experiments ADD COLUMN project_run INTEGER;
"#,
    r#"
CREATE TABLE briefs (
    id     INTEGER PRIMARY KEY,
    at     REAL NOT NULL,
    source TEXT NOT NULL,
    model  TEXT,
    body   TEXT NOT NULL
);
"#,
    r#"
CREATE TABLE curves (
    run_id INTEGER NOT NULL REFERENCES runs(id),
    metric TEXT NOT NULL,
    step   REAL NOT NULL,
    value  REAL NOT NULL,
    PRIMARY KEY (run_id, metric, step)
);
ALTER TABLE runs ADD COLUMN budget REAL;
"#,
];

pub fn migrate(conn: &mut Connection) -> Result<(), MigrateError> {
    let current: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if current > VERSION {
        return Err(MigrateError::TooNew(current));
    }
    if current == VERSION {
        return Ok(());
    }
    // Two processes may open an old ledger at once (`autolab run` and `autolab serve`): the
    // write lock is taken first and the version read again under it.
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let current: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", (i + 1) as i64)?;
    }
    tx.commit()?;
    Ok(())
}
