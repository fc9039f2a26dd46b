//! End-to-end tests of `schoon hash`: the real binary on the conformance images and on broken
//! files, checking every output format against Meta's reference values.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

fn images() -> PathBuf {
    root().join("testdata/pdq-conformance/images")
}

/// Runs `schoon` with `args` in `dir`, feeding `stdin`; on a failed expectation the caller
/// prints [`describe`].
fn schoon(dir: &Path, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_schoon"))
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("schoon runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
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

type Table = HashMap<String, HashMap<String, String>>;

/// A TSV with a header row as maps from column name to value, keyed by `path` (without `./`).
fn read_tsv(text: &str) -> Table {
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split('\t').collect();
    lines
        .map(|l| {
            let row: HashMap<String, String> = header
                .iter()
                .zip(l.split('\t'))
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            (row["path"].trim_start_matches("./").to_string(), row)
        })
        .collect()
}

/// expected.tsv, keyed by path under images/.
fn expected() -> Table {
    read_tsv(
        &std::fs::read_to_string(root().join("testdata/pdq-conformance/expected.tsv")).unwrap(),
    )
}

/// Parses the TSV output of `schoon hash`.
fn parse_tsv(stdout: &[u8]) -> Table {
    read_tsv(std::str::from_utf8(stdout).unwrap())
}

#[test]
fn tsv_matches_meta_on_every_conformance_file() {
    let args = ["hash", "--dihedral", "."];
    let out = schoon(&images(), &args, "");
    assert!(out.status.success(), "{}", describe(&args, &out));
    let got = parse_tsv(&out.stdout);
    let want = expected();
    let mut checked = 0;
    for (path, exp) in &want {
        let Some(row) = got.get(path) else {
            assert!(
                !images().join(path).exists(),
                "{path} exists but has no row"
            );
            continue; // trimmed from the repository copy (see OMITTED.md)
        };
        for col in [
            "md5",
            "sha1",
            "sha256",
            "pdq",
            "quality",
            "pdq_rot90",
            "pdq_rot180",
            "pdq_rot270",
            "pdq_flipx",
            "pdq_flipy",
            "pdq_flipplus1",
            "pdq_flipminus1",
        ] {
            assert_eq!(row[col], exp[col], "{path}: column {col}");
        }
        assert_eq!(row["size"], exp["bytes"], "{path}: size");
        assert_eq!(row["width"], exp["width"], "{path}: width");
        assert_eq!(row["error"], "", "{path}: error");
        checked += 1;
    }
    assert!(
        checked >= 70,
        "only {checked} conformance rows were checked"
    );
    assert_eq!(got.len(), checked, "rows for files not in expected.tsv");
}

#[test]
fn json_lines_and_csv_carry_the_same_hashes() {
    let dir = images().join("bridge-mods");
    let tsv = parse_tsv(&schoon(&dir, &["hash", "."], "").stdout);

    let out = schoon(&dir, &["hash", "--format", "jsonl", "."], "");
    assert!(
        out.status.success(),
        "{}",
        describe(&["hash", "--format", "jsonl"], &out)
    );
    let lines: Vec<serde_json::Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is JSON"))
        .collect();
    assert_eq!(lines.len(), tsv.len());
    for v in &lines {
        let path = v["path"].as_str().unwrap().trim_start_matches("./");
        assert_eq!(v["pdq"].as_str().unwrap(), tsv[path]["pdq"]);
        assert_eq!(
            v["quality"].as_u64().unwrap().to_string(),
            tsv[path]["quality"]
        );
        assert!(v["error"].is_null());
    }

    let out = schoon(&dir, &["hash", "-f", "csv", "."], "");
    let text = String::from_utf8(out.stdout).unwrap();
    let mut lines = text.lines();
    assert!(
        lines
            .next()
            .unwrap()
            .starts_with("path,size,md5,sha1,sha256,pdq,quality")
    );
    for l in lines {
        let cols: Vec<&str> = l.split(',').collect();
        assert_eq!(cols[5], tsv[cols[0].trim_start_matches("./")]["pdq"]);
    }
}

/// CRC-32 (IEEE), as PNG chunks carry it.
fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

#[test]
fn broken_files_are_reported_and_the_run_goes_on() {
    let tmp = tempfile::tempdir().unwrap();
    let jpeg = std::fs::read(images().join("bridge-mods/aaa-orig.jpg")).unwrap();
    std::fs::write(tmp.path().join("a-good.jpg"), &jpeg).unwrap();
    std::fs::write(tmp.path().join("b-truncated.jpg"), &jpeg[..jpeg.len() / 3]).unwrap();
    std::fs::write(tmp.path().join("c-notes.txt"), b"not an image at all").unwrap();
    std::fs::write(tmp.path().join("d-empty.png"), b"").unwrap();
    // A PNG header that claims 100000 x 100000 pixels: refused before any allocation.
    let mut ihdr = b"IHDR".to_vec();
    ihdr.extend(100_000u32.to_be_bytes());
    ihdr.extend(100_000u32.to_be_bytes());
    ihdr.extend([8, 2, 0, 0, 0]);
    let mut bomb = b"\x89PNG\r\n\x1a\n\0\0\0\x0d".to_vec();
    bomb.extend(&ihdr);
    bomb.extend(crc32(&ihdr).to_be_bytes());
    std::fs::write(tmp.path().join("e-bomb.png"), &bomb).unwrap();

    let args = ["hash", ".", "does-not-exist.jpg"];
    let out = schoon(tmp.path(), &args, "");
    assert_eq!(out.status.code(), Some(1), "{}", describe(&args, &out));
    let rows = parse_tsv(&out.stdout);
    assert_eq!(rows.len(), 6, "{}", describe(&args, &out));
    assert_eq!(
        rows["a-good.jpg"]["pdq"],
        expected()["bridge-mods/aaa-orig.jpg"]["pdq"]
    );
    let truncated = &rows["b-truncated.jpg"];
    assert!(truncated["error"].contains("jpeg"), "{truncated:?}");
    assert_eq!(truncated["pdq"], "");
    assert_eq!(
        truncated["md5"].len(),
        32,
        "digests are still given for an undecodable image"
    );
    assert_eq!(rows["c-notes.txt"]["error"], "not an image");
    assert_eq!(rows["c-notes.txt"]["size"], "19");
    assert!(!rows["d-empty.png"]["error"].is_empty());
    let bomb_error = &rows["e-bomb.png"]["error"];
    assert!(
        bomb_error.contains("too large") || bomb_error.contains("limit"),
        "{bomb_error}"
    );
    assert!(rows["does-not-exist.jpg"]["error"].contains("no such file"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("hashed 6 files"), "{stderr}");
    assert!(
        !stderr.contains('\r'),
        "no progress bar when stderr is not a terminal"
    );
}

#[test]
fn only_non_images_is_still_success() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("video.mp4"), vec![0u8; 5000]).unwrap();
    let args = ["hash", "-q", "video.mp4"];
    let out = schoon(tmp.path(), &args, "");
    assert!(out.status.success(), "{}", describe(&args, &out));
    assert!(out.stderr.is_empty(), "--quiet prints no summary");
}

#[test]
fn paths_from_standard_input_and_size_limit() {
    let dir = images().join("bridge-mods");
    let args = ["hash", "--max-bytes", "200KB", "-"];
    let out = schoon(&dir, &args, "aaa-orig.jpg\nblur-a-lot.jpg\n");
    assert_eq!(out.status.code(), Some(1), "{}", describe(&args, &out));
    let rows = parse_tsv(&out.stdout);
    // 361 KB is over the limit: digests, no PDQ, and a clear error.
    assert_eq!(
        rows["aaa-orig.jpg"]["md5"],
        expected()["bridge-mods/aaa-orig.jpg"]["md5"]
    );
    assert!(rows["aaa-orig.jpg"]["error"].contains("too large"));
    assert_eq!(
        rows["blur-a-lot.jpg"]["pdq"],
        expected()["bridge-mods/blur-a-lot.jpg"]["pdq"]
    );
}

#[test]
fn help_teaches_by_example_and_bad_flags_exit_2() {
    let out = schoon(&root(), &["hash", "--help"], "");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("Examples:") && text.contains("schoon hash"),
        "{text}"
    );
    let out = schoon(&root(), &["hash", "--max-bytes", "lots", "x"], "");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a size"));
}
