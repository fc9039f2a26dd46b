//! Headless Debian Chromium driven over WebDriver (fantoccini talking plain HTTP to a
//! chromedriver on loopback), for the tests of the web pages.
//!
//! Each [`Browser`] has its own chromedriver on a free loopback port, its own Chromium and a
//! fresh profile in a temporary directory. chromedriver runs in a process group of its own, and
//! the whole group (chromedriver and every Chromium process it started) is killed when the
//! `Browser` is dropped, so a panicking test leaves nothing behind.
//!
//! `/usr/bin/chromium` and `/usr/bin/chromedriver` come from Debian's `chromium` and
//! `chromium-driver` packages, which `scripts/setup.sh --test` installs.

use fantoccini::elements::Element;
use fantoccini::wd::Capabilities;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::json;
use std::fs::File;
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// How long [`Browser::find`] (and so `text`, `fill`, `click`) waits for an element.
pub const WAIT: Duration = Duration::from_secs(10);
/// How long [`Browser::start`] waits for chromedriver to say it is ready.
const DRIVER_READY: Duration = Duration::from_secs(20);
/// Bound on one page load and on the wait for `document.readyState == "complete"`.
const PAGE_LOAD: Duration = Duration::from_secs(30);

/// Chromium's flags: headless, and none of the background connections to outside hosts (this
/// machine's network refuses them, noisily).
const CHROMIUM_ARGS: &[&str] = &[
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1280,900",
];

/// A headless Chromium session. Use `client` directly for anything the helpers don't cover.
#[derive(Debug)]
pub struct Browser {
    pub client: Client,
    // Dropped in this order: the client, then chromedriver's process group, then the profile.
    driver: Driver,
    profile: tempfile::TempDir,
}

/// The chromedriver process, leader of its own process group; killed with the group on drop.
#[derive(Debug)]
struct Driver {
    child: Child,
    port: u16,
}

impl Drop for Driver {
    fn drop(&mut self) {
        // The negative pid names the group: chromedriver and the Chromium processes it started.
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill")
            .args(["-9", "--", &group])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Browser {
    /// Starts chromedriver on a free loopback port and a headless chromium session.
    ///
    /// Panics (never skips) when Chromium or chromedriver is missing: run
    /// `scripts/setup.sh --test`.
    pub async fn start() -> Browser {
        for binary in [CHROMIUM, CHROMEDRIVER] {
            assert!(
                Path::new(binary).exists(),
                "{binary} not found: the browser tests need Debian's chromium and chromium-driver; \
                 run scripts/setup.sh --test"
            );
        }
        let profile = tempfile::Builder::new()
            .prefix("schoon-chromium-")
            .tempdir()
            .expect("temporary directory for the Chromium profile");
        let driver = start_driver(profile.path()).await;

        let mut args: Vec<String> = CHROMIUM_ARGS.iter().map(|a| a.to_string()).collect();
        args.push(format!(
            "--user-data-dir={}",
            profile.path().join("user-data").display()
        ));
        let mut caps = Capabilities::new();
        caps.insert("browserName".into(), json!("chrome"));
        caps.insert(
            "goog:chromeOptions".into(),
            json!({ "binary": CHROMIUM, "args": args }),
        );
        caps.insert(
            "timeouts".into(),
            json!({ "pageLoad": PAGE_LOAD.as_millis() as u64, "script": 10_000 }),
        );
        let url = format!("http://127.0.0.1:{}", driver.port);
        let client = match tokio::time::timeout(
            Duration::from_secs(60),
            ClientBuilder::new(HttpConnector::new())
                .capabilities(caps)
                .connect(&url),
        )
        .await
        {
            Ok(Ok(client)) => client,
            Ok(Err(e)) => panic!(
                "chromedriver could not start Chromium: {e}\n{}",
                driver_log(profile.path())
            ),
            Err(_) => panic!(
                "no Chromium session within 60 s\n{}",
                driver_log(profile.path())
            ),
        };
        Browser {
            client,
            driver,
            profile,
        }
    }

    /// Opens `url` (the server's base address plus the path) and waits until the document is
    /// ready (`document.readyState == "complete"`).
    pub async fn goto(&self, url: &str) {
        self.client
            .goto(url)
            .await
            .unwrap_or_else(|e| panic!("could not open {url}: {e}"));
        let deadline = Instant::now() + PAGE_LOAD;
        loop {
            let state = self
                .client
                .execute("return document.readyState", vec![])
                .await
                .unwrap_or_else(|e| panic!("document.readyState of {url}: {e}"));
            if state == "complete" {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{url} not ready after {PAGE_LOAD:?} (readyState {state})"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits (up to [`WAIT`], 10 s) for an element matching the CSS selector and returns it.
    pub async fn find(&self, css: &str) -> Element {
        match self
            .client
            .wait()
            .at_most(WAIT)
            .every(Duration::from_millis(50))
            .for_element(Locator::Css(css))
            .await
        {
            Ok(element) => element,
            Err(e) => {
                let at = self
                    .client
                    .current_url()
                    .await
                    .map_or_else(|e| format!("(no URL: {e})"), |u| u.to_string());
                panic!("no element {css:?} on {at} within {WAIT:?}: {e}")
            }
        }
    }

    /// The (rendered) text of the first element matching css (waits for it). An element of
    /// the page a click is leaving can go stale between finding and reading it; then the
    /// element is looked up again on the new page.
    pub async fn text(&self, css: &str) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            match self.find(css).await.text().await {
                Ok(t) => return t,
                Err(e) if Instant::now() < deadline && e.to_string().contains("stale") => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(e) => panic!("text of {css:?}: {e}"),
            }
        }
    }

    /// Waits (up to [`WAIT`]) until the first element matching css has attribute `name` equal
    /// to `want`: after a click that navigates, the old page's element may be read first, or
    /// go stale while being read.
    pub async fn wait_attr(&self, css: &str, name: &str, want: &str) {
        let deadline = Instant::now() + WAIT;
        loop {
            let last = match self.find(css).await.attr(name).await {
                Ok(v) if v.as_deref() == Some(want) => return,
                Ok(v) => Some(format!("{v:?}")),
                Err(e) => Some(e.to_string()),
            };
            assert!(
                Instant::now() < deadline,
                "{css} never had {name}={want:?} within {WAIT:?} (last: {last:?})"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Types into a form field found by css (clears it first).
    pub async fn fill(&self, css: &str, value: &str) {
        let field = self.find(css).await;
        field
            .clear()
            .await
            .unwrap_or_else(|e| panic!("clearing {css:?}: {e}"));
        field
            .send_keys(value)
            .await
            .unwrap_or_else(|e| panic!("typing into {css:?}: {e}"));
    }

    /// Clicks the element found by css. A navigation it starts is waited for by chromedriver;
    /// look for something only the next page has, or an old element may still be found.
    ///
    /// An element found on the page a previous click was leaving goes stale before it can be
    /// clicked; it is found again on the new page (at most a few times) rather than failing.
    pub async fn click(&self, css: &str) {
        let mut tries = 0;
        loop {
            match self.find(css).await.click().await {
                Ok(()) => return,
                Err(e) if tries < 5 && e.to_string().contains("stale element") => {
                    tries += 1;
                    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                }
                Err(e) => panic!("clicking {css:?}: {e}"),
            }
        }
    }

    /// Saves a PNG screenshot of the viewport to path (for debugging failed tests).
    pub async fn screenshot(&self, path: &Path) {
        let png = self
            .client
            .screenshot()
            .await
            .unwrap_or_else(|e| panic!("screenshot: {e}"));
        std::fs::write(path, png).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
    }

    /// Closes the session and kills chromedriver (dropping a `Browser` kills it too, but
    /// without ending the session politely first).
    pub async fn close(self) {
        let Browser {
            client,
            driver,
            profile,
        } = self;
        let _ = tokio::time::timeout(Duration::from_secs(10), client.close()).await;
        drop(driver);
        drop(profile);
    }
}

/// Starts chromedriver on a free loopback port (a few tries, in case another process takes the
/// port between our probe and chromedriver's bind) and waits until `/status` says ready.
async fn start_driver(dir: &Path) -> Driver {
    let log_path = dir.join("chromedriver.log");
    for _ in 0..3 {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free loopback port")
            .port();
        let log = File::create(&log_path).expect("chromedriver log file");
        let child = Command::new(CHROMEDRIVER)
            // No --allowed-ips: with it chromedriver listens on every interface, without it
            // only on loopback.
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("chromedriver log file"))
            .stderr(log)
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("starting {CHROMEDRIVER}: {e}"));
        let mut driver = Driver { child, port };
        let deadline = Instant::now() + DRIVER_READY;
        loop {
            if status_ready(port).await {
                return driver;
            }
            if driver.child.try_wait().ok().flatten().is_some() {
                break; // exited (the port was taken?): try another port
            }
            assert!(
                Instant::now() < deadline,
                "chromedriver not ready on port {port} after {DRIVER_READY:?}\n{}",
                driver_log(dir)
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    panic!("chromedriver kept exiting at start\n{}", driver_log(dir))
}

/// Whether `GET /status` on chromedriver's port answers `"ready": true` (plain HTTP/1.1;
/// chromedriver keeps the connection open whatever we ask, so the body is read by its length).
async fn status_ready(port: u16) -> bool {
    let ask = async {
        let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
        stream
            .write_all(b"GET /status HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            .await?;
        let mut answer = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            let n = stream.read(&mut buf).await?;
            if n == 0 {
                return std::io::Result::Ok(None);
            }
            answer.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&answer);
            let Some((head, body)) = text.split_once("\r\n\r\n") else {
                continue;
            };
            let length = head.lines().find_map(|line| {
                let (name, value) = line.split_once(':')?;
                if name.trim().eq_ignore_ascii_case("content-length") {
                    value.trim().parse::<usize>().ok()
                } else {
                    None
                }
            });
            if length.is_some_and(|length| body.len() >= length) {
                return Ok(serde_json::from_str::<serde_json::Value>(body).ok());
            }
        }
    };
    match tokio::time::timeout(Duration::from_secs(2), ask).await {
        Ok(Ok(Some(status))) => status["value"]["ready"] == true,
        _ => false,
    }
}

/// The end of chromedriver's log, for panic messages.
fn driver_log(dir: &Path) -> String {
    let log = std::fs::read_to_string(dir.join("chromedriver.log")).unwrap_or_default();
    let tail: Vec<&str> = log.lines().rev().take(30).collect();
    let tail: Vec<&str> = tail.into_iter().rev().collect();
    format!("chromedriver log (last lines):\n{}", tail.join("\n"))
}
