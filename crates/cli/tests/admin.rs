//! End-to-end tests of `schoon orgs`, `schoon keys` and `schoon lists`: the real binary on a
//! temporary SQLite file, and the same scenarios on a real throwaway PostgreSQL server.
//!
//! The kill test (`killed_imports_leave_the_list_as_it_was`) is the requirement: an
//! import killed with SIGKILL, while it reads and while it publishes, leaves the list exactly at
//! its previous version, and the same import run again completes.

use serde_json::Value;
use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};
use store::testing::TempPostgres;

/// Lines of the kill test's big file. Big enough that reading it takes seconds on SQLite and
/// PostgreSQL in a debug build, so both kills land mid-import (the test checks that they did).
const KILL_LINES: u32 = 300_000;

fn command(db: &str, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_schoon"));
    cmd.args(args)
        .env("SCHOON_DB", db)
        .env("USER", "tester")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

/// Runs `schoon` with `args` against `db`.
fn schoon(db: &str, args: &[&str]) -> Output {
    command(db, args).output().expect("schoon runs")
}

fn describe(args: &[&str], out: &Output) -> String {
    format!(
        "schoon {}\nstatus: {}\nstdout:\n{}\nstderr:\n{}",
        args.join(" "),
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Runs `schoon`, expects exit status `code`, returns (stdout, stderr).
fn expect(db: &str, code: i32, args: &[&str]) -> (String, String) {
    let out = schoon(db, args);
    assert_eq!(out.status.code(), Some(code), "{}", describe(args, &out));
    (
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

/// Runs `schoon`, expects success, returns stdout.
fn ok(db: &str, args: &[&str]) -> String {
    expect(db, 0, args).0
}

/// Runs `schoon ... --json`, expects exit status `code`, returns the JSON.
fn json(db: &str, code: i32, args: &[&str]) -> Value {
    let mut args = args.to_vec();
    args.push("--json");
    let (stdout, _) = expect(db, code, &args);
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A list's details and versions, from `lists show --json`.
fn show(db: &str, list: &str) -> Value {
    json(db, 0, &["lists", "show", list])
}

/// The entries of `list` (at `version`) as `type,hash,quality,ref` lines, sorted.
fn export(db: &str, list: &str, version: Option<i64>) -> BTreeSet<String> {
    let v = version.map(|v| v.to_string());
    let mut args = vec!["lists", "export", list];
    if let Some(v) = &v {
        args.extend(["--version", v]);
    }
    let text = ok(db, &args);
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("type,hash,quality,ref,added_version"));
    lines
        .map(|l| l.rsplit_once(',').unwrap().0.to_string())
        .collect()
}

fn setup(db: &str, list: &str) {
    ok(db, &["orgs", "create", "Politie", "--kind", "police"]);
    ok(
        db,
        &[
            "lists",
            "create",
            list,
            "--owner",
            "Politie",
            "--category",
            "csam",
        ],
    );
}

/// A deterministic stream of hash-like hex digits (splitmix64).
struct Hex(u64);

impl Hex {
    fn digits(&mut self, n: usize) -> String {
        let mut s = String::with_capacity(n + 16);
        while s.len() < n {
            self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            s.push_str(&format!("{:016x}", z ^ (z >> 31)));
        }
        s.truncate(n);
        s
    }
}

fn blocking<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

// ---------------------------------------------------------------------------------------------
// The scenarios, each run on SQLite and on PostgreSQL.

/// Organisations, keys and lists are created, listed and shown; a key is printed once, on
/// standard output only, and verifies against what the store keeps; revoking works.
fn orgs_keys_and_lists_are_managed(db: &str, dir: &Path) {
    ok(db, &["orgs", "create", "Politie", "--kind", "police"]);
    let (_, err) = expect(db, 2, &["orgs", "create", "Politie", "--kind", "hotline"]);
    assert!(err.contains("already exists"), "{err}");
    let orgs = json(db, 0, &["orgs", "list"]);
    assert_eq!(orgs.as_array().unwrap().len(), 1);
    assert_eq!(orgs[0]["name"], "Politie");
    assert_eq!(orgs[0]["kind"], "police");
    assert!(ok(db, &["orgs", "list"]).contains("Politie  police"));

    // Categories: the built-in four, and one more.
    assert_eq!(
        ok(db, &["lists", "categories"]),
        "csam\nncii\nother\nterrorism\n"
    );
    let added = ok(db, &["lists", "categories", "--add", "fraud"]);
    assert!(added.lines().any(|l| l == "fraud"), "{added}");
    expect(db, 2, &["lists", "categories", "--add", "Not OK"]);

    // Keys: an unknown organisation is an error unless --create-org says what to make.
    let hoster = ["--org", "Example Hosting", "--role", "hoster"];
    let (_, err) = expect(db, 2, &[&["keys", "create"][..], &hoster].concat());
    assert!(err.contains("--create-org"), "{err}");
    let create = [
        &["keys", "create"][..],
        &hoster,
        &[
            "--create-org",
            "hoster",
            "--name",
            "scanner",
            "--rate",
            "5000",
        ],
    ]
    .concat();
    let (token, err) = expect(db, 0, &create);
    assert!(err.contains("shown only this once"), "{err}");
    let token = token.strip_suffix('\n').expect("one line");
    assert!(!token.contains('\n'), "only the key on stdout: {token:?}");
    let parsed = lists::keys::ParsedKey::parse(token).expect("a Schoon key");
    assert_eq!(token.len(), "schoon_".len() + 16 + 1 + 64);
    let secret = &token[token.len() - 64..];
    let (manager, _) = expect(
        db,
        0,
        &[
            "keys",
            "create",
            "--org",
            "Politie",
            "--role",
            "list_manager",
        ],
    );
    let manager = lists::keys::ParsedKey::parse(manager.trim()).unwrap();
    assert_ne!(manager.id, parsed.id);

    // The store keeps the key's hash, its organisation, role, label and rate.
    let stored = blocking(async {
        let store = store::open(db).await.unwrap();
        store.key(&parsed.id).await.unwrap().expect("stored")
    });
    assert!(parsed.matches(&stored.secret_sha256));
    assert_eq!(stored.role, lists::Role::Hoster);
    assert_eq!(stored.name, "scanner");
    assert_eq!(stored.rate_per_sec, Some(5000));

    // Listing keys never shows a secret (nor its hash).
    let table = ok(db, &["keys", "list"]);
    let keys = json(db, 0, &["keys", "list"]);
    for text in [&table, &keys.to_string()] {
        assert!(
            text.contains(&parsed.id) && text.contains(&manager.id),
            "{text}"
        );
        assert!(!text.contains(secret), "{text}");
        assert!(!text.contains("secret"), "{text}");
    }
    let hoster_key = keys
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["id"] == parsed.id.as_str())
        .unwrap();
    assert_eq!(hoster_key["org"], "Example Hosting");
    assert_eq!(hoster_key["role"], "hoster");
    assert_eq!(hoster_key["rate_per_sec"], 5000);
    assert!(hoster_key["revoked_at"].is_null());
    let orgs = json(db, 0, &["orgs", "list"]);
    assert_eq!(orgs[1]["kind"], "hoster", "--create-org made it");

    // Revoking: once, again (a no-op), an unknown id; the whole key is accepted too.
    assert!(ok(db, &["keys", "revoke", &parsed.id]).contains("revoked key"));
    assert!(ok(db, &["keys", "revoke", token]).contains("already revoked"));
    expect(db, 2, &["keys", "revoke", "nosuchkey"]);
    let keys = json(db, 0, &["keys", "list"]);
    let revoked: Vec<bool> = keys
        .as_array()
        .unwrap()
        .iter()
        .map(|k| !k["revoked_at"].is_null())
        .collect();
    assert_eq!(revoked.iter().filter(|r| **r).count(), 1);

    // Lists.
    let create = [
        "lists",
        "create",
        "nl-csam",
        "--owner",
        "Politie",
        "--category",
        "csam",
        "--description",
        "known material",
        "--source",
        "case files",
    ];
    assert!(ok(db, &create).contains("created list"));
    let (_, err) = expect(db, 2, &create);
    assert!(err.contains("already exists"), "{err}");
    let (_, err) = expect(
        db,
        2,
        &[
            "lists",
            "create",
            "x",
            "--owner",
            "Politie",
            "--category",
            "pirates",
        ],
    );
    assert!(
        err.contains("unknown category") && err.contains("csam"),
        "{err}"
    );
    let (_, err) = expect(
        db,
        2,
        &[
            "lists",
            "create",
            "x",
            "--owner",
            "Nobody",
            "--category",
            "csam",
        ],
    );
    assert!(err.contains("Nobody"), "{err}");

    let all = json(db, 0, &["lists", "list"]);
    assert_eq!(all.as_array().unwrap().len(), 1);
    assert_eq!(all[0]["name"], "nl-csam");
    assert_eq!(all[0]["owner"], "Politie");
    assert_eq!(all[0]["version"], 0);
    assert!(ok(db, &["lists", "show", "nl-csam"]).contains("no versions yet"));

    let file = dir.join("police-2026-11.csv");
    std::fs::write(
        &file,
        "sha1,ref\n86f7e437faa5a7fce15d1ddcb9eaeaea377667b8,empty\n\
         a9993e364706816aba3e25717850c26c9cd0d89d,abc\n",
    )
    .unwrap();
    ok(db, &["lists", "import", "nl-csam", path(&file)]);
    let s = show(db, "nl-csam");
    assert_eq!(s["version"], 1);
    assert_eq!(s["description"], "known material");
    assert_eq!(s["source"], "case files");
    assert_eq!(s["entries"]["sha1"], 2);
    assert_eq!(s["entries"]["md5"], 0);
    let v = &s["versions"][0];
    assert_eq!(
        (&v["version"], &v["mode"], &v["added"], &v["removed"]),
        (
            &Value::from(1),
            &Value::from("add"),
            &Value::from(2),
            &Value::from(0)
        )
    );
    assert_eq!(v["actor"], "cli:tester");
    assert_eq!(v["note"], "police-2026-11.csv");
    let text = ok(db, &["lists", "show", "nl-csam"]);
    assert!(
        text.contains("cli:tester") && text.contains("police-2026-11.csv"),
        "{text}"
    );
    let table = ok(db, &["lists", "list"]);
    assert!(table.lines().nth(1).unwrap().contains("nl-csam"), "{table}");

    // History: when a hash was on the list.
    let h = json(
        db,
        0,
        &[
            "lists",
            "history",
            "nl-csam",
            "86f7e437faa5a7fce15d1ddcb9eaeaea377667b8",
        ],
    );
    assert_eq!(
        h,
        serde_json::json!([{"added_version": 1, "removed_version": null}])
    );
    let text = ok(
        db,
        &[
            "lists",
            "history",
            "nl-csam",
            "900150983cd24fb0d6963f7d28e17f72",
        ],
    );
    assert!(text.contains("never been on list"), "{text}");
    let (_, err) = expect(db, 2, &["lists", "history", "nl-csam", &"ab".repeat(32)]);
    assert!(err.contains("--type"), "{err}");
}

/// Bad lines abort the import with every error reported and nothing changed; with
/// `--skip-invalid` the good lines are imported; duplicates count once.
fn bad_lines_change_nothing_unless_skipped(db: &str, dir: &Path) {
    setup(db, "l");
    let md5 = |i: u32| format!("{i:08x}d41d8cd98f00b204e9800998");
    let v1 = dir.join("v1.txt");
    std::fs::write(&v1, format!("{}\n{}\n{}\n", md5(1), md5(2), md5(3))).unwrap();
    ok(db, &["lists", "import", "l", path(&v1)]);
    let before = export(db, "l", None);
    assert_eq!(before.len(), 3);

    // Lines 3 and 6 are wrong; 4 repeats line 2 (in upper case), 7 is a blank line.
    let bad = dir.join("bad.csv");
    std::fs::write(
        &bad,
        format!(
            "md5,ref\n{},a\nnot-a-hash,b\n{},c\n{},d\n{}zz,e\n\n{},f\n",
            md5(4),
            md5(4).to_uppercase(),
            md5(5),
            md5(6),
            md5(1)
        ),
    )
    .unwrap();
    let (out, err) = expect(db, 1, &["lists", "import", "l", path(&bad)]);
    assert!(out.is_empty(), "{out}");
    assert!(err.contains("line 3:") && err.contains("line 6:"), "{err}");
    assert!(
        !err.contains("line 2:") && !err.contains("line 4:"),
        "{err}"
    );
    assert!(err.contains("2 of 8 lines could not be read"), "{err}");
    assert!(err.contains("was not changed"), "{err}");
    assert_eq!(show(db, "l")["version"], 1);
    assert_eq!(show(db, "l")["versions"].as_array().unwrap().len(), 1);
    assert_eq!(export(db, "l", None), before);

    // Skipping: the good lines go in, duplicates collapsed; the exit status still says 1.
    let s = json(
        db,
        1,
        &["lists", "import", "l", path(&bad), "--skip-invalid"],
    );
    assert_eq!(s["lines"], 8);
    assert_eq!(s["rows"], 4);
    assert_eq!(s["invalid"], 2);
    assert_eq!(s["distinct"], 3, "md5(4) twice");
    assert_eq!(s["added"], 2, "md5(1) was there already");
    assert_eq!(s["removed"], 0);
    assert_eq!(s["version"], 2);
    let after = export(db, "l", None);
    assert_eq!(after.len(), 5);
    assert!(after.contains(&format!("md5,{},,a", md5(4))));
    assert!(after.contains(&format!("md5,{},,d", md5(5))));
    assert_eq!(export(db, "l", Some(1)), before, "version 1 is kept");

    // The same input again changes nothing and makes no version.
    let good = dir.join("good.txt");
    std::fs::write(&good, format!("{}\n{}\n", md5(4), md5(5))).unwrap();
    let s = json(db, 0, &["lists", "import", "l", path(&good)]);
    assert!(s["version"].is_null());
    assert_eq!(s["list_version"], 2);
    let text = ok(db, &["lists", "import", "l", path(&good)]);
    assert!(text.contains("unchanged, still version 2"), "{text}");

    // Every error is counted, the first 100 are shown with their line numbers.
    let many: String = (0..150).map(|i| format!("bad{i}\n")).collect();
    let many_file = dir.join("many.txt");
    std::fs::write(&many_file, format!("{}\n{many}", md5(9))).unwrap();
    let (_, err) = expect(db, 1, &["lists", "import", "l", path(&many_file)]);
    assert!(
        err.contains("line 2:") && err.contains("line 101:"),
        "{err}"
    );
    assert!(!err.contains("line 102:"), "{err}");
    assert!(err.contains("50 more"), "{err}");
    assert!(err.contains("150 of 151 lines"), "{err}");
    assert_eq!(show(db, "l")["version"], 2);

    // A replace with nothing in it would empty the list: refused unless asked for.
    let empty = dir.join("empty.txt");
    std::fs::write(&empty, "# nothing yet\n").unwrap();
    let (_, err) = expect(
        db,
        2,
        &["lists", "import", "l", path(&empty), "--mode", "replace"],
    );
    assert!(err.contains("--allow-empty"), "{err}");
    assert_eq!(show(db, "l")["version"], 2);
    let s = json(
        db,
        0,
        &[
            "lists",
            "import",
            "l",
            path(&empty),
            "--mode",
            "replace",
            "--allow-empty",
        ],
    );
    assert_eq!(
        (&s["removed"], &s["version"]),
        (&Value::from(5), &Value::from(3))
    );
    assert!(export(db, "l", None).is_empty());
}

/// Spawns `schoon` with its standard error read line by line into a channel.
fn spawn_with_stderr(db: &str, args: &[&str]) -> (Child, mpsc::Receiver<String>) {
    let mut child = command(db, args).spawn().expect("schoon runs");
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    (child, rx)
}

/// Waits for a line of standard error containing `needle`; returns the lines so far.
fn wait_for(rx: &mpsc::Receiver<String>, needle: &str) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(300);
    let mut seen = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => {
                let found = line.contains(needle);
                seen.push(line);
                if found {
                    return seen;
                }
            }
            Err(e) => panic!("no {needle:?} on stderr ({e}); got {seen:?}"),
        }
    }
}

/// The peak memory of a running process in KiB (Linux).
fn peak_kib(child: &Child) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{}/status", child.id())).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Kills `child` with SIGKILL, after checking it is still running.
fn kill(mut child: Child, when: &str) {
    assert!(
        child.try_wait().unwrap().is_none(),
        "the import finished before it could be killed {when}: make KILL_LINES bigger"
    );
    child.kill().unwrap();
    let status = child.wait().unwrap();
    assert_eq!(
        status.signal(),
        Some(9),
        "killed {when}, not finished by itself: {status}"
    );
}

/// The kill test: SIGKILL while the file is read, and again while the new version is
/// written, leaves the list exactly at version 1; the same import then completes.
fn killed_imports_leave_the_list_as_it_was(db: &str, dir: &Path) {
    setup(db, "big");
    // The big file: a header, then MD5 and PDQ hashes in turn.
    let mut hex = Hex(7);
    let big = dir.join("big.csv");
    let mut first = Vec::new();
    {
        let mut w = std::io::BufWriter::new(std::fs::File::create(&big).unwrap());
        writeln!(w, "type,hash").unwrap();
        for i in 0..KILL_LINES {
            let line = if i % 2 == 0 {
                format!("md5,{}", hex.digits(32))
            } else {
                format!("pdq,{}", hex.digits(64))
            };
            if i < 3 {
                first.push(line.clone());
            }
            writeln!(w, "{line}").unwrap();
        }
        w.flush().unwrap();
    }
    let last_md5 = format!("md5:{}", hex.digits(32)); // never in the big file
    // Version 1: three of the big file's hashes and two others.
    let mut other = Hex(1_000_003);
    let only_v1 = [
        format!("md5,{}", other.digits(32)),
        format!("pdq,{}", other.digits(64)),
    ];
    let v1 = dir.join("v1.csv");
    std::fs::write(
        &v1,
        format!("type,hash\n{}\n{}\n", first.join("\n"), only_v1.join("\n")),
    )
    .unwrap();
    ok(db, &["lists", "import", "big", path(&v1)]);
    let v1_entries = export(db, "big", None);
    assert_eq!(v1_entries.len(), 5);

    let args = ["lists", "import", "big", path(&big), "--mode", "replace"];
    let unchanged = |when: &str| {
        let s = show(db, "big");
        assert_eq!(s["version"], 1, "killed {when}: {s}");
        assert_eq!(s["versions"].as_array().unwrap().len(), 1, "{s}");
        assert_eq!(s["entries"]["md5"], 3, "{s}");
        assert_eq!(s["entries"]["pdq"], 2, "{s}");
        assert_eq!(export(db, "big", None), v1_entries, "killed {when}");
    };

    // 1. While reading: at the first progress line.
    let (child, rx) = spawn_with_stderr(db, &args);
    wait_for(&rx, "lines read");
    kill(child, "while reading");
    unchanged("while reading");

    // 2. While publishing: the whole file is staged, the new version is being written.
    let (child, rx) = spawn_with_stderr(db, &args);
    let seen = wait_for(&rx, "writing the new version");
    let progress = seen.iter().filter(|l| l.contains("lines read")).count();
    assert_eq!(progress as u32, KILL_LINES / 100_000 + 1, "{seen:?}");
    // The file was never held in memory whole: a far smaller peak than its size.
    let file_kib = std::fs::metadata(&big).unwrap().len() / 1024;
    if let Some(peak) = peak_kib(&child) {
        assert!(
            peak < 64 * 1024,
            "peak {peak} KiB reading a {file_kib} KiB file"
        );
    }
    kill(child, "while writing the new version");
    unchanged("while writing the new version");

    // 3. The same import, to the end.
    let s = json(db, 0, &args);
    let n = u64::from(KILL_LINES);
    assert_eq!(s["lines"], n + 1);
    assert_eq!(s["rows"], n);
    assert_eq!(s["distinct"], n);
    assert_eq!(s["added"], n - 3);
    assert_eq!(s["removed"], 2);
    assert_eq!(s["version"], 2);
    let s = show(db, "big");
    assert_eq!(s["version"], 2);
    assert_eq!(s["entries"]["md5"], n / 2);
    assert_eq!(s["entries"]["pdq"], n / 2);
    assert_eq!(export(db, "big", Some(1)), v1_entries);
    let history = |key: &str| json(db, 0, &["lists", "history", "big", key]);
    let removed = only_v1[0].replacen(',', ":", 1);
    assert_eq!(
        history(&removed),
        serde_json::json!([{"added_version": 1, "removed_version": 2}])
    );
    let kept = first[0].replacen(',', ":", 1);
    assert_eq!(
        history(&kept),
        serde_json::json!([{"added_version": 1, "removed_version": null}])
    );
    assert_eq!(history(&last_md5), serde_json::json!([]));
}

/// An export imports back as it was: into another list, from a file and from standard input,
/// now and at an older version.
fn export_imports_back_as_it_was(db: &str, dir: &Path) {
    setup(db, "src");
    ok(
        db,
        &[
            "lists",
            "create",
            "copy",
            "--owner",
            "Politie",
            "--category",
            "csam",
        ],
    );
    let pdq = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22";
    let v1 = dir.join("v1.tsv");
    std::fs::write(
        &v1,
        format!(
            "type\thash\tquality\tref\n\
             pdq\t{pdq}\t87\tcase 7, frame \"a\"\n\
             md5\t900150983cd24fb0d6963f7d28e17f72\t\tabc\n\
             sha1\t86f7e437faa5a7fce15d1ddcb9eaeaea377667b8\t\t\n\
             sha256\tca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb\t\tx\n"
        ),
    )
    .unwrap();
    ok(db, &["lists", "import", "src", path(&v1)]);
    let remove = dir.join("remove.txt");
    std::fs::write(&remove, "900150983cd24fb0d6963f7d28e17f72\n").unwrap();
    ok(
        db,
        &["lists", "import", "src", path(&remove), "--mode", "remove"],
    );
    let add = dir.join("add.csv");
    std::fs::write(&add, "md5,ref\n0cc175b9c0f1b6a831c399e269772661,\"a, b\"\n").unwrap();
    ok(db, &["lists", "import", "src", path(&add)]);
    assert_eq!(show(db, "src")["version"], 3);

    let now = export(db, "src", None);
    assert_eq!(now.len(), 4);
    assert!(
        now.contains(&format!("pdq,{pdq},87,\"case 7, frame \"\"a\"\"\"")),
        "{now:?}"
    );
    let at_v1 = export(db, "src", Some(1));
    assert_eq!(at_v1.len(), 4);
    assert!(at_v1.contains("md5,900150983cd24fb0d6963f7d28e17f72,,abc"));
    let (_, err) = expect(db, 2, &["lists", "export", "src", "--version", "4"]);
    assert!(err.contains("no version 4"), "{err}");

    // A file with -o, replacing the copy's entries.
    let file = dir.join("src.csv");
    ok(db, &["lists", "export", "src", "-o", path(&file)]);
    assert!(!dir.join("src.csv.part").exists());
    let s = json(
        db,
        0,
        &["lists", "import", "copy", path(&file), "--mode", "replace"],
    );
    assert_eq!(
        (&s["added"], &s["invalid"]),
        (&Value::from(4), &Value::from(0))
    );
    assert_eq!(export(db, "copy", None), now);

    // Standard input, version 1.
    let v1_csv = schoon(db, &["lists", "export", "src", "--version", "1"]).stdout;
    let mut child = command(
        db,
        &[
            "lists", "import", "copy", "-", "--mode", "replace", "--json",
        ],
    )
    .stdin(Stdio::piped())
    .spawn()
    .unwrap();
    child.stdin.take().unwrap().write_all(&v1_csv).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", describe(&["import -"], &out));
    let s: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(s["file"], "standard input");
    assert_eq!(
        (&s["added"], &s["removed"]),
        (&Value::from(1), &Value::from(1))
    );
    assert_eq!(export(db, "copy", None), at_v1);
}

macro_rules! scenarios {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[test]
                fn $name() {
                    let dir = tempfile::tempdir().unwrap();
                    let db = format!("sqlite://{}", dir.path().join("schoon.db").display());
                    super::$name(&db, dir.path());
                }
            )*
        }

        /// One throwaway server for all scenarios, a fresh database for each.
        #[test]
        fn postgres_all_scenarios() {
            if TempPostgres::skipped() {
                eprintln!("SCHOON_SKIP_PG=1: skipping the PostgreSQL scenarios");
                return;
            }
            let pg = TempPostgres::start().expect("start PostgreSQL");
            $(
                let dir = tempfile::tempdir().unwrap();
                let db = pg.fresh_database(stringify!($name)).unwrap();
                $name(&db, dir.path());
            )*
        }
    };
}

scenarios!(
    orgs_keys_and_lists_are_managed,
    bad_lines_change_nothing_unless_skipped,
    killed_imports_leave_the_list_as_it_was,
    export_imports_back_as_it_was,
);

/// Ten million lines through standard input in bounded memory: the reader never holds the
/// input whole. (Comment lines, so that the database has nothing to do but the reading.)
#[test]
fn ten_million_lines_stream_in_bounded_memory() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("schoon.db").display());
    setup(&db, "l");
    let mut child = command(&db, &["lists", "import", "l", "-", "--json"])
        .stdin(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let comment = format!("# {}\n", "x".repeat(37)); // 40 bytes
    let chunk = comment.repeat(10_000);
    let mut peak = 0;
    for i in 0..1000 {
        if i == 500 {
            stdin
                .write_all(b"900150983cd24fb0d6963f7d28e17f72\n")
                .unwrap();
        }
        stdin.write_all(chunk.as_bytes()).unwrap();
        if i % 100 == 99 {
            peak = peak.max(peak_kib(&child).unwrap_or(0));
        }
    }
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", describe(&["import -"], &out));
    let s: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(s["lines"], 10_000_001);
    assert_eq!(
        (&s["rows"], &s["added"]),
        (&Value::from(1), &Value::from(1))
    );
    // 400 MB went through; the process stayed small.
    assert!(peak < 64 * 1024, "peak {peak} KiB");
}

#[test]
fn help_teaches_by_example_and_bad_arguments_exit_2() {
    let db = "sqlite://unused.db";
    for args in [
        &["orgs", "--help"][..],
        &["keys", "--help"],
        &["lists", "--help"],
        &["lists", "import", "--help"],
        &["lists", "export", "--help"],
    ] {
        let text = ok(db, args);
        assert!(
            text.contains("Examples:") && text.contains("schoon "),
            "{args:?}: {text}"
        );
        assert!(text.contains("SCHOON_DB"), "{args:?}: --db is documented");
    }
    let text = ok(db, &["keys", "create", "--help"]);
    for role in ["admin", "list_manager", "analyst", "hoster"] {
        assert!(text.contains(role), "{text}");
    }
    for args in [
        &["orgs", "create", "x", "--kind", "pirate"][..],
        &["keys", "create", "--org", "x", "--role", "king"],
        &["lists", "import", "l", "f", "--mode", "merge"],
        &["lists", "import", "l", "f", "--type", "crc32"],
        &[
            "keys", "create", "--org", "x", "--role", "hoster", "--rate", "0",
        ],
    ] {
        let out = schoon(db, args);
        assert_eq!(out.status.code(), Some(2), "{}", describe(args, &out));
    }
    let dir = tempfile::tempdir().unwrap();
    let out = schoon(
        &format!("sqlite://{}/x.db", dir.path().display()),
        &["lists", "show", "nope"],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("\"nope\""));
    let out = schoon("mysql://x", &["orgs", "list"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("sqlite://"));
}

/// The quality gate: low-quality and degenerate PDQ hashes and empty-file digests are refused
/// with their line and reason; the rest of the file is imported and the exit status is 0.
#[test]
fn the_quality_gate_refuses_rows_and_the_import_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("schoon.db").display());
    setup(&db, "l");
    let good = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22";
    let file = dir.path().join("gate.csv");
    std::fs::write(
        &file,
        format!(
            "type,hash,quality\npdq,{good},90\npdq,{},10\npdq,{},\nmd5,d41d8cd98f00b204e9800998ecf8427e,\nmd5,0123456789abcdef0123456789abcdef,\n",
            good.replace('f', "e"),
            "0".repeat(64)
        ),
    )
    .unwrap();
    let path = file.display().to_string();
    let (stdout, stderr) = expect(&db, 0, &["lists", "import", "l", &path, "--json"]);
    let s: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(
        (&s["rows"], &s["refused"], &s["added"]),
        (&Value::from(2), &Value::from(3), &Value::from(2)),
        "{s}"
    );
    for (line, reason) in [(3, "quality 10"), (4, "degenerate PDQ"), (5, "empty file")] {
        assert!(
            stderr
                .lines()
                .any(|l| l.contains(&format!("line {line}:")) && l.contains(reason)),
            "line {line} {reason}: {stderr}"
        );
    }
}
