//! `schoon scan` end to end: a real `schoon serve` process on SQLite with a list made from some
//! of the repository's benign test images, a directory tree (and an S3 bucket on a real
//! S3-compatible server, moto) holding those images, altered copies of them and other files,
//! and the scan's reports compared with exactly what should match.

mod common;

use scan::object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use serde_json::Value;
use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const IMAGES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../testdata/pdq-conformance/images"
);

fn img(rel: &str) -> PathBuf {
    Path::new(IMAGES).join(rel)
}

fn schoon(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_schoon"))
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap()
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

/// A running `schoon serve` on its own SQLite database, with a police list and a hoster key.
struct Service {
    child: Child,
    addr: String,
    db: String,
    key_file: PathBuf,
    key: String,
    dir: tempfile::TempDir,
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The MD5, SHA-1, SHA-256 and PDQ rows of `paths` in an import file (`type,hash`).
fn import_rows(paths: &[PathBuf], kinds: &[&str]) -> String {
    let mut args = vec!["hash", "--format", "jsonl", "--no-progress", "--quiet"];
    let ps: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    args.extend(ps.iter().map(String::as_str));
    let out = ok(&schoon(&args));
    let mut s = String::from("type,hash\n");
    for line in out.lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        for k in kinds {
            let h = v[*k].as_str().expect("hashed");
            s.push_str(&format!("{k},{h}\n"));
        }
    }
    s
}

impl Service {
    /// Starts the service with a list holding the digests and PDQ of `listed`.
    fn start(listed: &[PathBuf]) -> Service {
        let dir = tempfile::tempdir().unwrap();
        let db = format!("sqlite://{}", dir.path().join("schoon.db").display());
        ok(&schoon(&[
            "keys",
            "create",
            "--db",
            &db,
            "--org",
            "Police",
            "--role",
            "list_manager",
            "--create-org",
            "police",
        ]));
        ok(&schoon(&[
            "lists",
            "create",
            "nl-test",
            "--db",
            &db,
            "--owner",
            "Police",
            "--category",
            "csam",
        ]));
        let file = dir.path().join("import.csv");
        std::fs::write(
            &file,
            import_rows(listed, &["md5", "sha1", "sha256", "pdq"]),
        )
        .unwrap();
        ok(&schoon(&[
            "lists",
            "import",
            "nl-test",
            file.to_str().unwrap(),
            "--db",
            &db,
            "--no-progress",
        ]));
        let key = ok(&schoon(&[
            "keys",
            "create",
            "--db",
            &db,
            "--org",
            "Hoster",
            "--role",
            "hoster",
            "--create-org",
            "hoster",
            "--rate",
            "1000000",
        ]))
        .trim()
        .to_string();
        let key_file = dir.path().join("key");
        std::fs::write(&key_file, format!("{key}\n")).unwrap();
        let (child, addr) = common::spawn_serve(&db, "0.1");
        Service {
            child,
            addr,
            db,
            key_file,
            key,
            dir,
        }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The index sequence the service answers with now.
    fn index_seq(&self) -> i64 {
        self.get_json("/v1/check", &self.key)["index_seq"]
            .as_i64()
            .unwrap()
    }

    /// A GET answered with JSON (the services answers without chunking).
    fn get_json(&self, path: &str, key: &str) -> Value {
        let mut s = TcpStream::connect(&self.addr).unwrap();
        write!(
            s,
            "GET {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\nConnection: close\r\n\r\n",
        )
        .unwrap();
        let mut raw = String::new();
        s.read_to_string(&mut raw).unwrap();
        let body = raw.split_once("\r\n\r\n").unwrap().1;
        serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {raw}"))
    }

    /// A new admin key (for the audit log).
    fn admin_key(&self) -> String {
        ok(&schoon(&[
            "keys",
            "create",
            "--db",
            &self.db,
            "--org",
            "Operator",
            "--role",
            "admin",
            "--create-org",
            "operator",
        ]))
        .trim()
        .to_string()
    }

    /// The own-initiative removals in the audit log, as (count, client), waiting a little for
    /// the batched audit writer.
    fn own_removals(&self, admin: &str) -> Vec<(i64, String)> {
        let mut last = Vec::new();
        for _ in 0..50 {
            let v = self.get_json("/v1/audit?limit=1000", admin);
            last = v
                .as_array()
                .unwrap_or_else(|| panic!("{v}"))
                .iter()
                .filter(|r| r["action"] == "own_removal")
                .map(|r| {
                    let detail: Value =
                        serde_json::from_str(r["detail"].as_str().unwrap_or("{}")).unwrap();
                    (
                        r["count"].as_i64().unwrap(),
                        detail["client"].as_str().unwrap_or("").to_string(),
                    )
                })
                .collect();
            if !last.is_empty() {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        last
    }

    /// Adds rows to the list (through the CLI, as a list manager would) and waits until the
    /// service answers with the new index.
    fn add(&self, paths: &[PathBuf], kinds: &[&str]) {
        let before = self.index_seq();
        let file = self.dir.path().join("more.csv");
        std::fs::write(&file, import_rows(paths, kinds)).unwrap();
        ok(&schoon(&[
            "lists",
            "import",
            "nl-test",
            file.to_str().unwrap(),
            "--db",
            &self.db,
            "--no-progress",
        ]));
        let t = Instant::now();
        while self.index_seq() <= before {
            assert!(
                t.elapsed() < Duration::from_secs(10),
                "the service did not reload"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn scan_cmd(&self, state: &Path, extra: &[&str], sources: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_schoon"));
        c.args(["scan", "--server", &self.url(), "--key-file"])
            .arg(&self.key_file)
            .arg("--state")
            .arg(state)
            .args(["--no-progress"])
            .args(extra)
            .args(sources)
            .env("RUST_LOG", "warn");
        c
    }
}

/// One finished scan.
struct Run {
    code: i32,
    stderr: String,
    /// (file name, hash type, transform) of every match.
    matches: BTreeSet<(String, String, String)>,
    rows: Vec<Value>,
}

impl Run {
    /// Full path and hash type of every match.
    fn path_types(&self) -> BTreeSet<String> {
        self.rows
            .iter()
            .map(|r| format!("{} {}", r["path"], r["hash_type"]))
            .collect()
    }

    /// The number before `what` in the summary ("12 hashed").
    fn count(&self, what: &str) -> u64 {
        let i = self
            .stderr
            .find(what)
            .unwrap_or_else(|| panic!("no {what:?} in {}", self.stderr));
        let head = self.stderr[..i].trim_end();
        let n = head.rsplit([' ', '(']).next().unwrap();
        n.parse()
            .unwrap_or_else(|_| panic!("no count before {what:?} in {}", self.stderr))
    }
}

fn finish(out: Output) -> Run {
    let stdout = String::from_utf8(out.stdout).unwrap();
    let rows: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let matches = rows.iter().map(key_of).collect();
    Run {
        code: out.status.code().unwrap_or(-1),
        stderr: String::from_utf8(out.stderr).unwrap(),
        matches,
        rows,
    }
}

fn key_of(r: &Value) -> (String, String, String) {
    let path = r["path"].as_str().unwrap();
    let name = path.rsplit('/').next().unwrap().to_string();
    (
        name,
        r["hash_type"].as_str().unwrap().to_string(),
        r["transform"].as_str().unwrap().to_string(),
    )
}

fn scan(svc: &Service, state: &Path, extra: &[&str], sources: &[&str]) -> Run {
    let out = svc.scan_cmd(state, extra, sources).output().unwrap();
    let run = finish(out);
    assert!(
        run.code == 0 || run.code == 1,
        "scan failed ({}): {}",
        run.code,
        run.stderr
    );
    run
}

fn set(items: &[(&str, &str, &str)]) -> BTreeSet<(String, String, String)> {
    items
        .iter()
        .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
        .collect()
}

fn rgb(path: &Path) -> image::RgbImage {
    let bytes = std::fs::read(path).unwrap();
    let d = media::decode_rgb(&bytes, &media::Limits::DEFAULT).unwrap();
    image::RgbImage::from_raw(d.width as u32, d.height as u32, d.data).unwrap()
}

fn jpeg(im: &image::RgbImage, quality: i32) -> Vec<u8> {
    let t = turbojpeg::Image {
        pixels: im.as_raw().as_slice(),
        width: im.width() as usize,
        pitch: im.width() as usize * 3,
        height: im.height() as usize,
        format: turbojpeg::PixelFormat::RGB,
    };
    turbojpeg::compress(t, quality, turbojpeg::Subsamp::Sub2x2)
        .unwrap()
        .to_vec()
}

const BRIDGE: &str = "reg-test-input/dih/bridge-1-original.jpg";
const Q0122: &str = "reg-test-input/labelme-subset/q0122.jpg";

/// The files of the tree: name → bytes. Listed: the bridge photo and q0122.
fn tree_files() -> Vec<(&'static str, Vec<u8>)> {
    let bridge = rgb(&img(BRIDGE));
    let half = image::imageops::resize(
        &bridge,
        bridge.width() / 2,
        bridge.height() / 2,
        image::imageops::FilterType::Triangle,
    );
    let mut half_png = Vec::new();
    half.write_to(
        &mut std::io::Cursor::new(&mut half_png),
        image::ImageFormat::Png,
    )
    .unwrap();
    let mut q_png = Vec::new();
    rgb(&img(Q0122))
        .write_to(
            &mut std::io::Cursor::new(&mut q_png),
            image::ImageFormat::Png,
        )
        .unwrap();
    let other = std::fs::read(img("reg-test-input/labelme-subset/q2821.jpg")).unwrap();
    vec![
        ("site1/bridge.jpg", std::fs::read(img(BRIDGE)).unwrap()),
        ("site1/bridge-q40.jpg", jpeg(&bridge, 40)),
        ("site2/bridge-half.png", half_png),
        (
            "site2/bridge-mirror.jpg",
            std::fs::read(img("reg-test-input/dih/bridge-6-flipy.jpg")).unwrap(),
        ),
        (
            "site2/bridge-rot90.jpg",
            std::fs::read(img("reg-test-input/dih/bridge-2-rotate-90.jpg")).unwrap(),
        ),
        ("site3/q0122.png", q_png),
        ("other/q2821.jpg", other.clone()),
        (
            "other/q0291.jpg",
            std::fs::read(img("reg-test-input/labelme-subset/q0291.jpg")).unwrap(),
        ),
        (
            "other/shapes.png",
            std::fs::read(img("synthetic/shapes-100x80.png")).unwrap(),
        ),
        ("other/readme.txt", b"benign text, not an image\n".to_vec()),
        ("other/broken.jpg", other[..other.len() / 2].to_vec()),
    ]
}

fn write_tree(root: &Path) {
    for (name, bytes) in tree_files() {
        let p = root.join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, bytes).unwrap();
    }
}

fn expected_plain() -> BTreeSet<(String, String, String)> {
    set(&[
        ("bridge.jpg", "md5", ""),
        ("bridge.jpg", "sha1", ""),
        ("bridge.jpg", "sha256", ""),
        ("bridge.jpg", "pdq", ""),
        ("bridge-q40.jpg", "pdq", ""),
        ("bridge-half.png", "pdq", ""),
        ("q0122.png", "pdq", ""),
    ])
}

#[test]
fn scans_a_tree_reports_exactly_the_listed_images_and_rescans_cheaply() {
    let svc = Service::start(&[img(BRIDGE), img(Q0122)]);
    let work = tempfile::tempdir().unwrap();
    let root = work.path().join("www");
    write_tree(&root);
    let root_s = root.to_str().unwrap();
    let state = work.path().join("state.db");
    let csv = work.path().join("matches.csv");
    let rejected = work.path().join("rejected.jsonl");

    // First scan: everything is hashed; exactly the listed images and their altered copies
    // match, the mirrored and rotated copies do not (no --dihedral).
    let first = scan(
        &svc,
        &state,
        &[
            "--report",
            "-",
            "--report",
            csv.to_str().unwrap(),
            "--rejected",
            rejected.to_str().unwrap(),
        ],
        &[root_s],
    );
    assert_eq!(first.code, 1, "a match exits 1: {}", first.stderr);
    assert_eq!(first.matches, expected_plain(), "{}", first.stderr);
    assert_eq!(first.count("hashed"), 11);
    assert!(
        first.stderr.contains("MATCHED: 4 files (7 matches)"),
        "{}",
        first.stderr
    );
    for r in &first.rows {
        assert_eq!(r["list"], "nl-test");
        assert_eq!(r["category"], "csam");
        assert!(r["size"].as_u64().unwrap() > 0);
        if r["hash_type"] == "pdq" && key_of(r).0 == "bridge-q40.jpg" {
            let d = r["distance"].as_u64().unwrap();
            assert!(d <= 31, "a lossy re-encode is near: {d}");
        }
    }
    // The CSV report holds the same rows.
    let mut rd = csv::Reader::from_path(&csv).unwrap();
    let csv_rows: BTreeSet<(String, String, String)> = rd
        .deserialize::<std::collections::HashMap<String, String>>()
        .map(|r| {
            let r = r.unwrap();
            (
                r["path"].rsplit('/').next().unwrap().to_string(),
                r["hash_type"].clone(),
                r["transform"].clone(),
            )
        })
        .collect();
    assert_eq!(csv_rows, expected_plain());
    // Rejected files are listed with their reason, and their digests were still checked.
    let rej: Vec<Value> = std::fs::read_to_string(&rejected)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let reasons: BTreeSet<(String, String)> = rej
        .iter()
        .map(|r| {
            (
                r["path"]
                    .as_str()
                    .unwrap()
                    .rsplit('/')
                    .next()
                    .unwrap()
                    .to_string(),
                r["reason"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        reasons,
        [
            ("broken.jpg".to_string(), "malformed".to_string()),
            ("readme.txt".to_string(), "not an image".to_string())
        ]
        .into_iter()
        .collect()
    );
    assert!(first.stderr.contains("1 malformed"), "{}", first.stderr);

    // Re-scan of the unchanged tree: nothing hashed, nothing sent, the same matches.
    let second = scan(&svc, &state, &[], &[root_s]);
    assert_eq!(second.code, 1);
    assert_eq!(second.matches, expected_plain());
    assert_eq!(second.count("hashed"), 0);
    assert_eq!(second.count("unchanged"), 11);
    assert_eq!(second.count("hashes in"), 0, "{}", second.stderr);

    // A changed file is hashed again, alone; a deleted one is forgotten.
    std::fs::write(root.join("other/readme.txt"), b"changed text\n").unwrap();
    std::fs::remove_file(root.join("other/shapes.png")).unwrap();
    let third = scan(&svc, &state, &[], &[root_s]);
    assert_eq!(third.count("hashed"), 1);
    assert!(
        third.stderr.contains("1 files from earlier scans are gone"),
        "{}",
        third.stderr
    );

    // The list changes: nothing is hashed, the stored hashes are checked again, and a file
    // that now matches is reported.
    svc.add(&[img("reg-test-input/labelme-subset/q2821.jpg")], &["md5"]);
    let fourth = scan(&svc, &state, &[], &[root_s]);
    assert_eq!(fourth.count("hashed"), 0);
    assert_eq!(fourth.count("re-checked"), 10);
    let mut want = expected_plain();
    want.insert(("q2821.jpg".into(), "md5".into(), String::new()));
    assert_eq!(fourth.matches, want);
    let list_version = fourth
        .rows
        .iter()
        .find(|r| key_of(r).0 == "q2821.jpg")
        .unwrap()["list_version"]
        .as_i64()
        .unwrap();
    assert_eq!(list_version, 2);

    // With the dihedral set the mirrored and rotated copies are caught too, and say how. The
    // stored plain hashes lack the set, so the images are hashed again.
    let fifth = scan(&svc, &state, &["--dihedral"], &[root_s]);
    assert!(fifth.count("hashed") >= 7, "{}", fifth.stderr);
    let mirrored: BTreeSet<_> = fifth
        .matches
        .iter()
        .filter(|m| m.0 == "bridge-mirror.jpg" || m.0 == "bridge-rot90.jpg")
        .cloned()
        .collect();
    assert_eq!(
        mirrored,
        set(&[
            ("bridge-mirror.jpg", "pdq", "flipy"),
            ("bridge-rot90.jpg", "pdq", "rot270"),
        ])
    );
}

#[test]
fn quarantine_moves_matches_away_with_their_record() {
    let svc = Service::start(&[img(BRIDGE), img(Q0122)]);
    let work = tempfile::tempdir().unwrap();
    let root = work.path().join("www");
    write_tree(&root);
    let q = work.path().join("quarantine");
    let state = work.path().join("state.db");
    let run = scan(
        &svc,
        &state,
        &["--quarantine", q.to_str().unwrap()],
        &[root.to_str().unwrap()],
    );
    assert_eq!(run.code, 1);
    assert_eq!(run.matches, expected_plain());
    for name in [
        "site1/bridge.jpg",
        "site1/bridge-q40.jpg",
        "site2/bridge-half.png",
        "site3/q0122.png",
    ] {
        assert!(!root.join(name).exists(), "{name} is still in place");
        assert!(q.join(name).is_file(), "{name} is not in quarantine");
        let meta: Value =
            serde_json::from_slice(&std::fs::read(q.join(format!("{name}.schoon.json"))).unwrap())
                .unwrap();
        assert_eq!(meta["location"], root.join(name).to_str().unwrap());
        assert_eq!(meta["matches"][0]["list"], "nl-test");
    }
    assert!(root.join("other/q2821.jpg").exists());
    for r in &run.rows {
        assert!(
            r["quarantined"]
                .as_str()
                .unwrap()
                .starts_with(q.to_str().unwrap())
        );
    }
    // The service was told that four files were removed on the hoster's own initiative:
    // one record, a count, from the scanner.
    assert!(
        run.stderr
            .contains("told the service that 4 quarantined files were removed"),
        "{}",
        run.stderr
    );
    let admin = svc.admin_key();
    assert_eq!(svc.own_removals(&admin), vec![(4, "scanner".to_string())]);
    // The tree is clean now, and nothing is reported twice.
    let again = scan(&svc, &state, &[], &[root.to_str().unwrap()]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert!(again.matches.is_empty());
    assert!(again.stderr.contains("no matches"));
    assert!(
        !again.stderr.contains("told the service"),
        "{}",
        again.stderr
    );
    assert_eq!(svc.own_removals(&admin), vec![(4, "scanner".to_string())]);
}

/// A tree big enough that a scan on one thread takes seconds.
fn big_tree(root: &Path, n: usize) {
    let files = tree_files();
    for i in 0..n {
        let (name, bytes) = &files[i % 5];
        let p = root.join(format!("d{:02}/{i:04}-{}", i % 17, name.replace('/', "-")));
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, bytes).unwrap();
    }
}

fn wait_rows(state: &Path, at_least: u64, child: &mut Child) -> u64 {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let t = Instant::now();
    loop {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the scan ended too early"
        );
        if state.exists() {
            let n = rt.block_on(async {
                match scan::state::State::open(state).await {
                    Ok(s) => {
                        let n = s.count().await.unwrap_or(0);
                        s.close().await;
                        n
                    }
                    Err(_) => 0,
                }
            });
            if n >= at_least {
                return n;
            }
        }
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "no progress in the state database"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn count_rows(state: &Path) -> u64 {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let s = scan::state::State::open(state).await.unwrap();
        let n = s.count().await.unwrap();
        s.close().await;
        n
    })
}

#[test]
fn an_interrupted_scan_goes_on_where_it_stopped_and_reports_the_same() {
    const N: usize = 240;
    let svc = Service::start(&[img(BRIDGE), img(Q0122)]);
    let work = tempfile::tempdir().unwrap();
    let root = work.path().join("tree");
    big_tree(&root, N);
    let root_s = root.to_str().unwrap();
    let one = ["-j", "1", "--report", "-"];

    // The reference: one uninterrupted scan.
    let reference = scan(&svc, &work.path().join("ref.db"), &one, &[root_s]);
    assert_eq!(reference.count("hashed"), N as u64);
    let want = reference.path_types();
    assert!(!want.is_empty());

    // Ctrl-C half-way: what was hashed is checked and saved; the next run hashes the rest only.
    let state = work.path().join("int.db");
    let mut child = svc
        .scan_cmd(&state, &one, &[root_s])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_rows(&state, 10, &mut child);
    assert!(
        Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status()
            .unwrap()
            .success()
    );
    let first = finish(child.wait_with_output().unwrap());
    assert_eq!(first.code, 130, "{}", first.stderr);
    assert!(first.stderr.contains("interrupted"), "{}", first.stderr);
    let hashed_before = first.count("hashed");
    assert!(
        hashed_before > 0 && hashed_before < N as u64,
        "{}",
        first.stderr
    );
    assert_eq!(
        count_rows(&state),
        hashed_before,
        "every hashed file was saved"
    );
    let rest = scan(&svc, &state, &one, &[root_s]);
    assert_eq!(
        rest.count("hashed") + hashed_before,
        N as u64,
        "no file hashed twice"
    );
    assert_eq!(rest.path_types(), want);

    // kill -9 half-way: only the batch in flight is lost, and the report is the same.
    let state = work.path().join("kill.db");
    let mut child = svc
        .scan_cmd(&state, &one, &[root_s])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_rows(&state, 10, &mut child);
    child.kill().unwrap();
    child.wait().unwrap();
    let saved = count_rows(&state);
    assert!(saved > 0 && saved < N as u64);
    let rest = scan(&svc, &state, &one, &[root_s]);
    assert_eq!(
        rest.count("hashed") + saved,
        N as u64,
        "only unsaved files are hashed again"
    );
    assert_eq!(rest.path_types(), want);
}

/// moto's S3 server, from the test virtual environment that `scripts/setup.sh` makes.
fn moto_server() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("SCHOON_MOTO_SERVER") {
        return Some(PathBuf::from(p));
    }
    let home = std::env::var_os("HOME")?;
    let p = PathBuf::from(home).join(".cache/schoon/test-venv/bin/moto_server");
    p.is_file().then_some(p)
}

struct Moto {
    child: Child,
    endpoint: String,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Moto {
    fn start(bin: &Path) -> Moto {
        let port = free_port();
        let child = Command::new(bin)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let t = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(t.elapsed() < Duration::from_secs(30), "moto did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        Moto {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
        }
    }

    /// Creates a bucket (a plain S3 `PUT /bucket`).
    fn create_bucket(&self, name: &str) {
        let addr = self.endpoint.strip_prefix("http://").unwrap();
        let mut s = TcpStream::connect(addr).unwrap();
        write!(
            s,
            "PUT /{name} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut raw = String::new();
        s.read_to_string(&mut raw).unwrap();
        assert!(raw.starts_with("HTTP/1.1 200"), "{raw}");
    }
}

#[test]
fn scans_a_bucket_on_an_s3_compatible_server() {
    let Some(bin) = moto_server() else {
        assert!(
            std::env::var_os("SCHOON_SKIP_S3").is_some(),
            "moto_server not found: run scripts/setup.sh (it makes ~/.cache/schoon/test-venv), \
             point SCHOON_MOTO_SERVER at it, or set SCHOON_SKIP_S3=1 to skip this test"
        );
        eprintln!("SCHOON_SKIP_S3 set: S3 scan test skipped");
        return;
    };
    let moto = Moto::start(&bin);
    moto.create_bucket("hoster-uploads");
    let opts = scan::S3Options {
        endpoint: Some(moto.endpoint.clone()),
        region: None,
        credentials: Some(("test".into(), "test".into())),
    };
    let store = scan::source::s3_store("hoster-uploads", &opts).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        for (name, bytes) in tree_files() {
            let path = scan::object_store::path::Path::from(format!("customers/{name}"));
            store.put(&path, PutPayload::from(bytes)).await.unwrap();
        }
        // Outside the scanned prefix: never read.
        let outside = scan::object_store::path::Path::from("elsewhere/bridge.jpg");
        store
            .put(
                &outside,
                PutPayload::from(std::fs::read(img(BRIDGE)).unwrap()),
            )
            .await
            .unwrap();
    });

    let svc = Service::start(&[img(BRIDGE), img(Q0122)]);
    let work = tempfile::tempdir().unwrap();
    let state = work.path().join("state.db");
    let run_s3 = |extra: &[&str]| {
        let out = svc
            .scan_cmd(&state, extra, &["s3://hoster-uploads/customers"])
            .args(["--s3-endpoint", &moto.endpoint])
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .output()
            .unwrap();
        let run = finish(out);
        assert!(run.code == 0 || run.code == 1, "{}", run.stderr);
        run
    };
    let first = run_s3(&[]);
    assert_eq!(first.code, 1, "{}", first.stderr);
    assert_eq!(first.matches, expected_plain());
    assert_eq!(first.count("hashed"), 11);
    assert!(first.rows.iter().all(|r| {
        r["path"]
            .as_str()
            .unwrap()
            .starts_with("s3://hoster-uploads/customers/")
    }));

    // Unchanged bucket: ETags and sizes match the state, nothing is downloaded again.
    let second = run_s3(&[]);
    assert_eq!(second.count("hashed"), 0);
    assert_eq!(second.matches, expected_plain());

    // Quarantine: matched objects leave the bucket for the local quarantine folder.
    let q = work.path().join("quarantine");
    let third = run_s3(&["--quarantine", q.to_str().unwrap()]);
    assert_eq!(third.matches, expected_plain());
    let remaining: BTreeSet<String> = rt.block_on(async {
        use futures_util::TryStreamExt;
        let prefix = scan::object_store::path::Path::from("customers");
        store
            .list(Some(&prefix))
            .map_ok(|m| m.location.to_string())
            .try_collect()
            .await
            .unwrap()
    });
    for gone in ["site1/bridge.jpg", "site3/q0122.png"] {
        assert!(
            !remaining.contains(&format!("customers/{gone}")),
            "{gone} still in the bucket"
        );
        assert!(q.join("s3/hoster-uploads/customers").join(gone).is_file());
    }
    assert!(remaining.contains("customers/other/q2821.jpg"));
    let after = run_s3(&[]);
    assert_eq!(after.code, 0, "{}", after.stderr);
}
