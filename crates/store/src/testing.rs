//! Throwaway PostgreSQL servers for tests: `initdb` and `pg_ctl` from the system's binaries
//! (Debian's `postgresql` package, under `/usr/lib/postgresql/<version>/bin`), a fresh data
//! directory, a free loopback port, and a stop when the value is dropped. No mocks.
//!
//! `initdb` refuses to run as root, so when the tests run as root (CI containers) the server
//! runs as the `postgres` user that the package creates, in a directory handed over to it.
//!
//! Set `SCHOON_SKIP_PG=1` to skip PostgreSQL tests on a machine without it; the test suite
//! started by `scripts/test.sh` installs PostgreSQL and never sets it.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// A running throwaway server. Stopped (fast) when dropped.
#[derive(Debug)]
pub struct TempPostgres {
    dir: tempfile::TempDir,
    bin: PathBuf,
    as_user: Option<String>,
    port: u16,
}

/// Why a server could not be started.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// No `initdb` under `/usr/lib/postgresql/*/bin`.
    #[error(
        "PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin (apt install postgresql)"
    )]
    NotInstalled,
    /// A step failed.
    #[error("{step} failed: {detail}")]
    Step {
        /// Which.
        step: &'static str,
        /// Its output.
        detail: String,
    },
}

fn find_bin() -> Option<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok())
        .map(|e| e.path().join("bin"))
        .filter(|b| b.join("initdb").exists() && b.join("pg_ctl").exists())
        .collect();
    found.sort();
    found.pop()
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(54329)
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

impl TempPostgres {
    /// Whether tests should skip PostgreSQL (`SCHOON_SKIP_PG=1`).
    pub fn skipped() -> bool {
        std::env::var("SCHOON_SKIP_PG").is_ok_and(|v| v == "1")
    }

    /// Starts a server with a database `schoon` owned by user `schoon` (trust authentication,
    /// loopback only).
    pub fn start() -> Result<TempPostgres, StartError> {
        let bin = find_bin().ok_or(StartError::NotInstalled)?;
        let dir = tempfile::Builder::new()
            .prefix("schoon-pg-")
            .tempdir()
            .map_err(|e| StartError::Step {
                step: "tempdir",
                detail: e.to_string(),
            })?;
        let as_user = is_root().then(|| "postgres".to_string());
        if let Some(user) = &as_user {
            let ok = Command::new("chown")
                .args(["-R", &format!("{user}:"), &dir.path().display().to_string()])
                .status()
                .is_ok_and(|s| s.success());
            if !ok {
                return Err(StartError::Step {
                    step: "chown",
                    detail: format!("cannot hand {} to {user}", dir.path().display()),
                });
            }
        }
        let mut pg = TempPostgres {
            dir,
            bin,
            as_user,
            port: 0,
        };
        let data = pg.data_dir();
        pg.run(
            "initdb",
            &[
                "-D",
                &data.display().to_string(),
                "-U",
                "schoon",
                "--auth=trust",
                "--no-sync",
                "-E",
                "UTF8",
                "--locale=C",
            ],
        )?;
        // Retry on a port race with another test.
        let mut last = None;
        for _ in 0..5 {
            let port = free_port();
            let opts = format!(
                "-c listen_addresses=127.0.0.1 -p {port} -k {} -c fsync=off -c synchronous_commit=off -c full_page_writes=off",
                pg.dir.path().display()
            );
            let log = pg.dir.path().join("server.log").display().to_string();
            match pg.run(
                "pg_ctl",
                &[
                    "-D",
                    &data.display().to_string(),
                    "-o",
                    &opts,
                    "-l",
                    &log,
                    "-w",
                    "-t",
                    "60",
                    "start",
                ],
            ) {
                Ok(()) => {
                    pg.port = port;
                    last = None;
                    break;
                }
                Err(e) => last = Some(e),
            }
        }
        if let Some(e) = last {
            return Err(e);
        }
        pg.run(
            "createdb",
            &[
                "-h",
                "127.0.0.1",
                "-p",
                &pg.port.to_string(),
                "-U",
                "schoon",
                "schoon",
            ],
        )?;
        Ok(pg)
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn run(&self, tool: &'static str, args: &[&str]) -> Result<(), StartError> {
        let exe = self.bin.join(tool);
        let mut cmd = match &self.as_user {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--"]).arg(&exe);
                c
            }
            None => Command::new(&exe),
        };
        let out = cmd
            .args(args)
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .output()
            .map_err(|e| StartError::Step {
                step: tool,
                detail: e.to_string(),
            })?;
        if out.status.success() {
            Ok(())
        } else {
            let log =
                std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default();
            Err(StartError::Step {
                step: tool,
                detail: format!(
                    "{}{}{}",
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr),
                    log
                ),
            })
        }
    }

    /// The URL of the `schoon` database.
    pub fn url(&self) -> String {
        format!("postgres://schoon@127.0.0.1:{}/schoon", self.port)
    }

    /// A URL for another, freshly created database on the same server (one per test).
    pub fn fresh_database(&self, name: &str) -> Result<String, StartError> {
        self.run(
            "createdb",
            &[
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                "schoon",
                name,
            ],
        )?;
        Ok(format!("postgres://schoon@127.0.0.1:{}/{name}", self.port))
    }

    /// The data directory's parent (logs live there).
    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for TempPostgres {
    fn drop(&mut self) {
        if self.port != 0 {
            let data = self.data_dir().display().to_string();
            let _ = self.run("pg_ctl", &["-D", &data, "-m", "immediate", "-w", "stop"]);
        }
    }
}
