//! Check one uploaded file before publishing it: hash it here, send only the hashes.
//!
//! ```text
//! cargo run -p schoon-scan --example check_upload -- SERVER_URL KEY_FILE PATH
//! cargo run -p schoon-scan --example check_upload -- http://127.0.0.1:8080 /etc/schoon/key upload.jpg
//! ```
//!
//! The file is read and hashed on this machine (MD5, SHA-1, SHA-256 and, for images, PDQ); only
//! those four hashes go to `POST /v1/check`. Exit status: 0 not listed, 1 listed (do not publish),
//! 2 error (the file could not be read, the key was refused, the server could not be reached):
//! an upload hook should treat 2 as "not checked", never as "not listed".

use scan::client::{Client, Query};
use scan::filehash::{Options, Perceptual, Worker};
use std::path::PathBuf;
use std::process::ExitCode;

/// PDQ hashes below this quality (flat, featureless images) are not sent, as `schoon scan` does.
const MIN_QUALITY: u8 = 50;

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(true) => ExitCode::from(1),
        Ok(false) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("check_upload: {e}");
            ExitCode::from(2)
        }
    }
}

/// Returns whether the file matched a list.
async fn run() -> Result<bool, Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [server, key_file, path] = args.as_slice() else {
        return Err("usage: check_upload SERVER_URL KEY_FILE PATH".into());
    };
    let key = std::fs::read_to_string(key_file)
        .map_err(|e| format!("reading the key file {key_file}: {e}"))?;
    let client = Client::new(server, key.trim().to_string())?;

    // Hashing is CPU work: keep it off the async threads.
    let file = PathBuf::from(path);
    let hashes = tokio::task::spawn_blocking(move || {
        Worker::default().hash_path(&file, &Options::default())
    })
    .await?
    .map_err(|e| format!("reading {path}: {e}"))?;

    let mut queries = vec![
        Query::new("md5", hashes.digests.md5_hex()),
        Query::new("sha1", hashes.digests.sha1_hex()),
        Query::new("sha256", hashes.digests.sha256_hex()),
    ];
    match &hashes.perceptual {
        Perceptual::Hashed { pdq, .. } if pdq.quality >= MIN_QUALITY => {
            queries.push(Query::new("pdq", pdq.hash.to_hex()));
        }
        Perceptual::Hashed { pdq, .. } => {
            eprintln!(
                "check_upload: PDQ quality {} is too low to send",
                pdq.quality
            );
        }
        Perceptual::NotImage => {}
        Perceptual::Failed(e) => eprintln!("check_upload: no PDQ hash: {e}"),
    }

    let answer = client.check(&queries, None).await?;
    let mut matched = false;
    for (query, result) in queries.iter().zip(&answer.results) {
        for m in &result.matches {
            matched = true;
            println!(
                "MATCH {path}: {} on list {} ({}, version {}), distance {}",
                query.kind, m.list, m.category, m.list_version, m.distance
            );
        }
    }
    if !matched {
        println!("ok {path}: not listed (index {})", answer.index_seq);
    }
    Ok(matched)
}
