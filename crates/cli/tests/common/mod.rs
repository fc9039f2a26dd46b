//! Helpers shared by the end-to-end tests (each test binary uses some of them).
#![allow(dead_code)]

pub mod browser;

use lists::keys::NewKey;
use lists::{ApiKey, Millis, Role, Store};
use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

/// Starts `schoon serve --db DB --listen 127.0.0.1:0 --poll POLL` and returns the process and
/// the address it printed.
pub fn spawn_serve(db: &str, poll: &str) -> (Child, String) {
    spawn_serve_with(db, poll, &[])
}

/// [`spawn_serve`] with more arguments.
pub fn spawn_serve_with(db: &str, poll: &str, extra: &[&str]) -> (Child, String) {
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
        .args(extra)
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

/// A minimal HTTP/1.1 exchange on loopback (one request per connection): status and JSON body
/// (or the body as a JSON string when it is not JSON).
pub fn http(
    addr: &str,
    method: &str,
    path: &str,
    token: &str,
    ctype: &str,
    body: &str,
) -> (u16, Value) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    let status = raw[9..12].parse().unwrap();
    let (_, body) = raw.split_once("\r\n\r\n").unwrap();
    (
        status,
        serde_json::from_str(body).unwrap_or(Value::String(body.into())),
    )
}

/// A new key for `org` with `role`, stored directly; returns the token.
pub async fn key(store: &dyn Store, org: i64, role: Role) -> String {
    let new = NewKey::generate().unwrap();
    store
        .insert_key(&ApiKey {
            id: new.id.clone(),
            org_id: org,
            role,
            name: format!("{role}"),
            secret_sha256: new.secret_sha256,
            rate_per_sec: None,
            created_at: Millis::now(),
            revoked_at: None,
        })
        .await
        .unwrap();
    new.token().to_string()
}

/// Runs `schoon ARGS` (logs at warn) and returns what it printed.
pub fn schoon(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_schoon"))
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap()
}

/// The standard output of a run that must have succeeded (else both outputs in the panic).
pub fn ok(out: Output) -> String {
    assert!(
        out.status.success(),
        "schoon failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// A new analyst key of a hotline organisation "Hotline" (made with it), through the CLI.
pub fn analyst_key(db: &str) -> String {
    let out = ok(schoon(&[
        "keys",
        "create",
        "--db",
        db,
        "--org",
        "Hotline",
        "--create-org",
        "hotline",
        "--role",
        "analyst",
    ]));
    out.lines()
        .find(|l| l.starts_with("schoon_"))
        .expect("the key is printed")
        .trim()
        .to_string()
}
