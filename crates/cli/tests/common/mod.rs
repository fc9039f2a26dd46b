//! Helpers shared by the end-to-end tests.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

/// Starts `schoon serve --db DB --listen 127.0.0.1:0 --poll POLL` and returns the process and
/// the address it printed.
pub fn spawn_serve(db: &str, poll: &str) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_schoon"))
        .args([
            "serve",
            "--db",
            db,
            "--listen",
            "127.0.0.1:0",
            "--poll",
            poll,
        ])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let addr = loop {
        let line = lines
            .next()
            .expect("serve exited before listening")
            .unwrap();
        if let Some(a) = line.strip_prefix("schoon: listening on http://") {
            break a.trim().to_string();
        }
    };
    (child, addr)
}
