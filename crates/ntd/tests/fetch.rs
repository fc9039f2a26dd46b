//! Re-checks (`ntd::fetch`) against real HTTP servers and a real DNS server, all on loopback.
//!
//! The well-behaved server is axum on `127.0.0.1:<free port>`, counting the connections it
//! accepts; the misbehaving ones (a server that never answers, a closed port) are raw sockets.
//! Names resolve through `ntd::testing::TestDns`. Most tests run with `allow_loopback` (so the
//! servers can be reached at all); the last ones run without it and check that nothing is
//! contacted. No test leaves the machine: the private and link-local addresses that appear are
//! refused before any connect, which is what is tested.

use std::collections::HashMap;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Path, Query};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::serve::ListenerExt;
use ntd::dns::{DnsConfig, Resolver};
use ntd::fetch::{Check, Content, FetchConfig, Fetcher, Verdict};
use ntd::testing::{TestDns, TestRecord};
use sha2::{Digest, Sha256};
use tokio::net::TcpListener;

const PAGE: &str = "<html><head><title>Product 42</title></head><body><h1>Product 42</h1>\
                    <p>Still in stock.</p></body></html>";
const REMOVED: &str = "<html><head><title>Oops</title></head><body>\
                       <p>Sorry, This Content Has Been REMOVED by the uploader.</p></body></html>";
const BIG: usize = 10 * 1024 * 1024;

// ---------------------------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------------------------

/// The HTTP server: its address and how many connections it accepted.
struct Site {
    addr: SocketAddr,
    connections: Arc<AtomicUsize>,
}

impl Site {
    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// `http://<name>:<port><path>`.
    fn named(&self, name: &str, path: &str) -> String {
        format!("http://{name}:{}{path}", self.addr.port())
    }

    fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

/// Starts the axum test site on `127.0.0.1:<free port>` in the test's runtime.
async fn site() -> Site {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let connections = Arc::new(AtomicUsize::new(0));
    let counter = connections.clone();
    let listener = listener.tap_io(move |_| {
        counter.fetch_add(1, Ordering::SeqCst);
    });
    let app = Router::new()
        .route("/page", get(|| async { html(PAGE) }))
        .route("/removed", get(|| async { html(REMOVED) }))
        .route("/status/{code}", get(status))
        .route("/chain/{n}", get(chain))
        .route("/redirect", get(redirect))
        .route("/big", get(big))
        .route(
            "/image.png",
            get(|| async { image(&images().png, "image/png") }),
        )
        .route(
            "/other.png",
            get(|| async { image(&images().other_png, "image/png") }),
        )
        .route(
            "/image.jpg",
            get(|| async { image(&images().jpeg, "image/jpeg") }),
        );
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    Site { addr, connections }
}

fn html(body: &'static str) -> Response {
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], body).into_response()
}

fn image(bytes: &[u8], content_type: &'static str) -> Response {
    ([(header::CONTENT_TYPE, content_type)], bytes.to_vec()).into_response()
}

async fn status(Path(code): Path<u16>) -> Response {
    let status = StatusCode::from_u16(code).unwrap();
    (status, format!("status {code}")).into_response()
}

/// `/chain/n` redirects (relatively) to `/chain/n-1`; `/chain/0` is a page.
async fn chain(Path(n): Path<u32>) -> Response {
    if n == 0 {
        return html(PAGE);
    }
    (StatusCode::FOUND, [(header::LOCATION, (n - 1).to_string())]).into_response()
}

/// `/redirect?to=<url>` redirects to `<url>`, whatever it is; without `to`, it is a 301
/// without a `Location`.
async fn redirect(Query(query): Query<HashMap<String, String>>) -> Response {
    match query.get("to") {
        Some(to) => (
            StatusCode::MOVED_PERMANENTLY,
            [(header::LOCATION, to.clone())],
        )
            .into_response(),
        None => StatusCode::MOVED_PERMANENTLY.into_response(),
    }
}

async fn big() -> Response {
    (
        [(header::CONTENT_TYPE, "application/octet-stream")],
        vec![b'x'; BIG],
    )
        .into_response()
}

fn redirect_to(site: &Site, target: &str) -> String {
    let encoded: String = url::form_urlencoded::byte_serialize(target.as_bytes()).collect();
    site.url(&format!("/redirect?to={encoded}"))
}

/// The test DNS: names on loopback, on private addresses, mixed, and IPv6 unique-local.
fn dns() -> TestDns {
    let v4 = |s: &str| TestRecord::A(s.parse::<Ipv4Addr>().unwrap());
    let v6 = |s: &str| TestRecord::Aaaa(s.parse::<Ipv6Addr>().unwrap());
    TestDns::start(&[
        ("shop.test", v4("127.0.0.1")),
        ("evil.test", v4("10.0.0.1")),
        ("mixed.test", v4("10.0.0.1")),
        ("mixed.test", v4("127.0.0.1")),
        ("metadata.test", v4("169.254.169.254")),
        ("v6.test", v6("fd00::1")),
        ("www.shop.test", TestRecord::Cname("shop.test".to_owned())),
    ])
    .unwrap()
}

fn config(allow_loopback: bool) -> FetchConfig {
    FetchConfig {
        allow_loopback,
        timeout: Duration::from_secs(10),
        ..FetchConfig::default()
    }
}

fn fetcher_with(dns: &TestDns, config: FetchConfig) -> Fetcher {
    let resolver = Resolver::new(&DnsConfig {
        servers: vec![dns.addr()],
        timeout: Duration::from_secs(2),
        attempts: 1,
    })
    .unwrap();
    Fetcher::new(resolver, config).unwrap()
}

fn fetcher(dns: &TestDns) -> Fetcher {
    fetcher_with(dns, config(true))
}

#[track_caller]
fn expect(check: &Check, verdict: Verdict, reason_contains: &str) {
    assert_eq!(check.verdict, verdict, "{check:#?}");
    assert!(
        check.reason.contains(reason_contains),
        "reason {:?} lacks {reason_contains:?}",
        check.reason
    );
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

// ---------------------------------------------------------------------------------------------
// Answers
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_page_is_online() {
    let (site, dns) = (site().await, dns());
    let url = site.url("/page");
    let check = fetcher(&dns).check(&url, None).await;
    expect(&check, Verdict::Online, "HTTP 200");
    assert_eq!(check.status, Some(200));
    assert_eq!(check.hops, [url]);
    assert_eq!(check.address.as_deref(), Some("127.0.0.1"));
    assert_eq!(
        check.content,
        Some(Content {
            sha256: sha256_hex(PAGE.as_bytes()),
            pdq: None
        })
    );
    assert_eq!(check.bytes, PAGE.len() as u64);
    assert!(!check.truncated);
    assert_eq!(site.connections(), 1);
}

#[tokio::test]
async fn a_page_by_name_is_online_and_the_same_again() {
    let (site, dns) = (site().await, dns());
    let fetcher = fetcher(&dns);
    let url = site.named("www.shop.test", "/page");
    let first = fetcher.check(&url, None).await;
    expect(&first, Verdict::Online, "HTTP 200");
    assert_eq!(first.address.as_deref(), Some("127.0.0.1"));
    let again = fetcher.check(&url, first.content.as_ref()).await;
    expect(&again, Verdict::Online, "same content (SHA-256 equal)");
}

#[tokio::test]
async fn http_404_is_offline() {
    let (site, dns) = (site().await, dns());
    let check = fetcher(&dns).check(&site.url("/status/404"), None).await;
    expect(&check, Verdict::Offline, "HTTP 404");
    assert_eq!(check.status, Some(404));
    assert_eq!(check.content, None);
    assert_eq!(check.bytes, 0);
}

#[tokio::test]
async fn http_410_is_offline() {
    let (site, dns) = (site().await, dns());
    let check = fetcher(&dns).check(&site.url("/status/410"), None).await;
    expect(&check, Verdict::Offline, "HTTP 410");
}

#[tokio::test]
async fn http_451_is_offline() {
    let (site, dns) = (site().await, dns());
    let check = fetcher(&dns).check(&site.url("/status/451"), None).await;
    expect(&check, Verdict::Offline, "HTTP 451");
}

#[tokio::test]
async fn a_removal_page_served_with_200_is_offline() {
    let (site, dns) = (site().await, dns());
    let check = fetcher(&dns).check(&site.url("/removed"), None).await;
    assert_eq!(
        check.reason,
        "removal page (\"this content has been removed\")"
    );
    assert_eq!(check.verdict, Verdict::Offline);
    assert_eq!(check.status, Some(200));
}

#[tokio::test]
async fn http_503_is_inconclusive() {
    let (site, dns) = (site().await, dns());
    let check = fetcher(&dns).check(&site.url("/status/503"), None).await;
    expect(&check, Verdict::Inconclusive, "HTTP 503");
    assert_eq!(check.status, Some(503));
}

#[tokio::test]
async fn denied_and_rate_limited_are_inconclusive() {
    let (site, dns) = (site().await, dns());
    let fetcher = fetcher(&dns);
    for code in [401, 403, 429, 500] {
        let check = fetcher
            .check(&site.url(&format!("/status/{code}")), None)
            .await;
        expect(&check, Verdict::Inconclusive, &format!("HTTP {code}"));
    }
}

// ---------------------------------------------------------------------------------------------
// Redirects
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_chain_of_three_redirects_is_followed() {
    let (site, dns) = (site().await, dns());
    let url = site.named("shop.test", "/chain/3");
    let check = fetcher(&dns).check(&url, None).await;
    expect(&check, Verdict::Online, "HTTP 200");
    assert_eq!(
        check.hops,
        [
            url,
            site.named("shop.test", "/chain/2"),
            site.named("shop.test", "/chain/1"),
            site.named("shop.test", "/chain/0"),
        ]
    );
    assert_eq!(check.status, Some(200));
    assert_eq!(site.connections(), 4, "one connection per hop");
}

#[tokio::test]
async fn a_chain_of_six_redirects_is_too_long() {
    let (site, dns) = (site().await, dns());
    let check = fetcher(&dns).check(&site.url("/chain/6"), None).await;
    expect(
        &check,
        Verdict::Inconclusive,
        "too many redirects (more than 5)",
    );
    assert_eq!(check.hops.len(), 6, "the asked URL and five redirects");
    assert_eq!(check.status, Some(302));
    assert_eq!(site.connections(), 6);
}

#[tokio::test]
async fn a_redirect_to_a_private_address_is_refused() {
    let (site, dns) = (site().await, dns());
    let url = redirect_to(&site, "http://10.0.0.1/admin");
    let check = fetcher(&dns).check(&url, None).await;
    assert_eq!(check.verdict, Verdict::Refused);
    assert_eq!(check.reason, "redirect to 10.0.0.1 refused: private");
    assert_eq!(check.hops, [url, "http://10.0.0.1/admin".to_owned()]);
    assert_eq!(check.status, Some(301));
    assert_eq!(check.address, None);
}

#[tokio::test]
async fn redirects_to_mapped_and_metadata_addresses_are_refused() {
    let (site, dns) = (site().await, dns());
    let fetcher = fetcher(&dns);
    let cases = [
        ("http://[::ffff:10.0.0.1]/", "ipv4-mapped private"),
        ("http://[::ffff:169.254.169.254]/", "ipv4-mapped link-local"),
        ("http://169.254.169.254/latest/meta-data/", "link-local"),
        ("http://0xa9.0xfe.0xa9.0xfe/", "link-local"),
        ("http://[fd00::1]:8080/", "unique-local"),
        ("http://[64:ff9b::a00:1]/", "nat64 private"),
        ("http://0.0.0.0/", "unspecified"),
    ];
    for (target, reason) in cases {
        let check = fetcher.check(&redirect_to(&site, target), None).await;
        expect(&check, Verdict::Refused, reason);
        assert!(check.reason.starts_with("redirect to "), "{}", check.reason);
    }
}

#[tokio::test]
async fn a_redirect_to_a_name_with_a_private_address_is_refused() {
    let (site, dns) = (site().await, dns());
    let target = site.named("evil.test", "/page");
    let check = fetcher(&dns)
        .check(&redirect_to(&site, &target), None)
        .await;
    assert_eq!(check.verdict, Verdict::Refused);
    assert_eq!(
        check.reason,
        "redirect to evil.test refused: it resolves only to refused addresses: 10.0.0.1 (private)"
    );
    assert_eq!(check.hops.last(), Some(&target));
    assert_eq!(site.connections(), 1, "only the redirecting request");
}

#[tokio::test]
async fn names_with_only_refused_addresses_are_refused() {
    let (site, dns) = (site().await, dns());
    let fetcher = fetcher(&dns);
    let check = fetcher.check("http://v6.test/", None).await;
    expect(
        &check,
        Verdict::Refused,
        "v6.test refused: it resolves only to refused addresses: fd00::1 (unique-local)",
    );
    let check = fetcher.check(&site.named("metadata.test", "/"), None).await;
    expect(&check, Verdict::Refused, "169.254.169.254 (link-local)");
    assert_eq!(site.connections(), 0);
}

#[tokio::test]
async fn a_mixed_answer_is_trimmed_to_its_allowed_addresses() {
    let (site, dns) = (site().await, dns());
    let check = fetcher(&dns)
        .check(&site.named("mixed.test", "/page"), None)
        .await;
    expect(&check, Verdict::Online, "HTTP 200");
    assert_eq!(check.address.as_deref(), Some("127.0.0.1"));
}

#[tokio::test]
async fn redirect_trouble_is_inconclusive() {
    let (site, dns) = (site().await, dns());
    let fetcher = fetcher(&dns);
    let check = fetcher
        .check(&redirect_to(&site, "ftp://shop.test/file"), None)
        .await;
    expect(&check, Verdict::Inconclusive, "redirect to a ftp: URL");
    let check = fetcher
        .check(&redirect_to(&site, "http://[::1/"), None)
        .await;
    expect(&check, Verdict::Inconclusive, "malformed Location");
    let check = fetcher.check(&site.url("/redirect"), None).await;
    expect(&check, Verdict::Inconclusive, "HTTP 301 without a Location");
    let check = fetcher.check("gopher://shop.test/", None).await;
    expect(
        &check,
        Verdict::Inconclusive,
        "scheme gopher: is not http or https",
    );
    let check = fetcher.check("not a url", None).await;
    expect(&check, Verdict::Inconclusive, "malformed URL");
    assert_eq!(check.hops, ["not a url"]);
}

// ---------------------------------------------------------------------------------------------
// Network failures
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_name_that_does_not_exist_is_offline() {
    let dns = dns();
    let check = fetcher(&dns).check("http://nowhere.test/page", None).await;
    expect(&check, Verdict::Offline, "DNS: nowhere.test");
    assert_eq!(check.status, None);
}

#[tokio::test]
async fn a_closed_port_is_offline() {
    let dns = dns();
    let port = {
        let listener = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        listener.local_addr().unwrap().port()
    };
    let check = fetcher(&dns)
        .check(&format!("http://shop.test:{port}/"), None)
        .await;
    assert_eq!(check.verdict, Verdict::Offline, "{check:#?}");
    assert_eq!(check.reason, "connection refused");
    assert_eq!(check.status, None);
}

#[tokio::test]
async fn a_server_that_never_answers_times_out() {
    let dns = dns();
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let fetcher = fetcher_with(
        &dns,
        FetchConfig {
            timeout: Duration::from_secs(1),
            ..config(true)
        },
    );
    let started = Instant::now();
    let check = fetcher.check(&format!("http://{addr}/"), None).await;
    let took = started.elapsed();
    assert_eq!(check.verdict, Verdict::Inconclusive, "{check:#?}");
    assert_eq!(check.reason, "timed out after 1s");
    assert!(took >= Duration::from_secs(1), "{took:?}");
    assert!(took < Duration::from_secs(3), "{took:?}");
    assert!((1000..3000).contains(&check.millis), "{}", check.millis);
}

#[tokio::test]
async fn a_huge_body_is_read_up_to_the_cap() {
    let (site, dns) = (site().await, dns());
    let fetcher = fetcher(&dns);
    let cap = fetcher.config().body_cap as u64;
    let check = fetcher.check(&site.url("/big"), None).await;
    expect(&check, Verdict::Online, "HTTP 200");
    assert!(check.truncated);
    assert_eq!(check.bytes, cap);
    assert!(check.bytes < BIG as u64);
    assert_eq!(check.content, None, "a part is not hashed");

    let baseline = Content {
        sha256: sha256_hex(&vec![b'x'; BIG]),
        pdq: None,
    };
    let check = fetcher.check(&site.url("/big"), Some(&baseline)).await;
    expect(&check, Verdict::Online, "could not be compared");
    assert!(check.truncated);
    assert!(check.bytes <= cap);
}

#[tokio::test]
async fn a_smaller_cap_is_respected() {
    let (site, dns) = (site().await, dns());
    let fetcher = fetcher_with(
        &dns,
        FetchConfig {
            body_cap: 10,
            ..config(true)
        },
    );
    let check = fetcher.check(&site.url("/page"), None).await;
    assert_eq!(check.verdict, Verdict::Online);
    assert_eq!((check.bytes, check.truncated), (10, true));
}

// ---------------------------------------------------------------------------------------------
// Images
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn images_are_compared_by_pdq() {
    let (site, dns) = (site().await, dns());
    let fetcher = fetcher(&dns);

    let first = fetcher.check(&site.url("/image.png"), None).await;
    expect(&first, Verdict::Online, "HTTP 200");
    let baseline = first.content.clone().expect("the PNG is read completely");
    assert_eq!(baseline.sha256, sha256_hex(&images().png));
    let pdq = baseline.pdq.clone().expect("the PNG has a good PDQ hash");
    assert_eq!(pdq.len(), 64);

    // The same file again.
    let same = fetcher
        .check(&site.url("/image.png"), Some(&baseline))
        .await;
    expect(&same, Verdict::Online, "same content (SHA-256 equal)");

    // The same picture, re-encoded as JPEG (quality 90): other bytes, close PDQ.
    let jpeg = fetcher
        .check(&site.url("/image.jpg"), Some(&baseline))
        .await;
    expect(&jpeg, Verdict::Online, "same image (PDQ distance ");
    let distance = pdq_distance(&jpeg.reason);
    assert!(distance <= 16, "JPEG at PDQ distance {distance}");
    let content = jpeg.content.expect("the JPEG is read completely");
    assert_ne!(content.sha256, baseline.sha256);
    assert!(content.pdq.is_some());

    // Another picture at the same URL.
    let other = fetcher
        .check(&site.url("/other.png"), Some(&baseline))
        .await;
    expect(
        &other,
        Verdict::Changed,
        "replaced: different image (PDQ distance ",
    );
    let distance = pdq_distance(&other.reason);
    assert!(distance > 64, "another picture at PDQ distance {distance}");

    // A page where the image was.
    let page = fetcher.check(&site.url("/page"), Some(&baseline)).await;
    expect(&page, Verdict::Changed, "replaced");
}

/// The number in "... (PDQ distance N)".
fn pdq_distance(reason: &str) -> u32 {
    let start = reason.find("PDQ distance ").expect("a PDQ distance") + "PDQ distance ".len();
    let digits: String = reason[start..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().unwrap()
}

// ---------------------------------------------------------------------------------------------
// Loopback, without the test exception
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn loopback_is_refused_and_never_contacted() {
    let (site, dns) = (site().await, dns());
    let fetcher = fetcher_with(&dns, config(false));
    let port = site.addr.port();
    let cases = [
        (
            format!("http://127.0.0.1:{port}/page"),
            "127.0.0.1 refused: loopback",
        ),
        (format!("http://[::1]:{port}/page"), "::1 refused: loopback"),
        (
            format!("http://[::ffff:127.0.0.1]:{port}/page"),
            "refused: ipv4-mapped loopback",
        ),
        (
            site.named("shop.test", "/page"),
            "shop.test refused: it resolves only to refused addresses: 127.0.0.1 (loopback)",
        ),
        (site.named("www.shop.test", "/page"), "127.0.0.1 (loopback)"),
        (
            site.named("mixed.test", "/page"),
            "10.0.0.1 (private), 127.0.0.1 (loopback)",
        ),
    ];
    for (url, reason) in cases {
        let check = fetcher.check(&url, None).await;
        expect(&check, Verdict::Refused, reason);
        assert_eq!(check.hops, [url]);
        assert_eq!(check.address, None);
        assert_eq!(check.status, None);
    }
    assert_eq!(site.connections(), 0, "the server was contacted");
}

// ---------------------------------------------------------------------------------------------
// Test images: a PNG, another PNG, and the first one as a JPEG (quality 90)
// ---------------------------------------------------------------------------------------------

struct Images {
    png: Vec<u8>,
    other_png: Vec<u8>,
    jpeg: Vec<u8>,
}

const SIDE: usize = 256;

fn images() -> &'static Images {
    static IMAGES: OnceLock<Images> = OnceLock::new();
    IMAGES.get_or_init(|| {
        let first = picture(false);
        let second = picture(true);
        Images {
            png: png(&first),
            other_png: png(&second),
            jpeg: jpeg::encode(&first, SIDE, SIDE, 90),
        }
    })
}

/// A smooth gradient with a few shapes (so PDQ has features to grip); `other` is a different
/// composition.
fn picture(other: bool) -> Vec<u8> {
    let mut rgb = Vec::with_capacity(SIDE * SIDE * 3);
    for y in 0..SIDE {
        for x in 0..SIDE {
            let (fx, fy) = (x as f64, y as f64);
            let mut pixel = if other {
                // Diagonal stripes and a bright square at the bottom left.
                let stripe = ((fx + fy) / 24.0).sin() * 100.0 + 128.0;
                let mut p = [stripe, 255.0 - fy * 0.8, fx * 0.6 + 40.0];
                if (20..110).contains(&x) && (150..240).contains(&y) {
                    p = [250.0, 250.0, 230.0];
                }
                p
            } else {
                // A diagonal gradient, a dark disc and a bright bar.
                let mut p = [fx, fy, (fx + fy) / 2.0];
                let (dx, dy) = (fx - 80.0, fy - 90.0);
                if dx * dx + dy * dy < 45.0 * 45.0 {
                    p = [20.0, 30.0, 60.0];
                }
                if (150..225).contains(&x) && (30..200).contains(&y) {
                    p = [240.0, 220.0, 90.0];
                }
                p
            };
            for channel in &mut pixel {
                *channel = channel.clamp(0.0, 255.0);
            }
            rgb.extend(pixel.map(|c| c as u8));
        }
    }
    rgb
}

fn png(rgb: &[u8]) -> Vec<u8> {
    let image = image::RgbImage::from_raw(SIDE as u32, SIDE as u32, rgb.to_vec()).unwrap();
    let mut out = std::io::Cursor::new(Vec::new());
    image.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

/// A minimal baseline JPEG encoder (YCbCr 4:4:4, the standard Huffman tables of ITU T.81
/// Annex K, IJG quality scaling): the `image` crate here is built without JPEG support.
mod jpeg {
    const ZIGZAG: [usize; 64] = [
        0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27,
        20, 13, 6, 7, 14, 21, 28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51,
        58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63,
    ];

    const LUMA_QUANT: [u32; 64] = [
        16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69,
        56, 14, 17, 22, 29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81,
        104, 113, 92, 49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99,
    ];

    const CHROMA_QUANT: [u32; 64] = [
        17, 18, 24, 47, 99, 99, 99, 99, 18, 21, 26, 66, 99, 99, 99, 99, 24, 26, 56, 99, 99, 99, 99,
        99, 47, 66, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99,
        99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99, 99,
    ];

    const DC_LUMA_BITS: [u8; 16] = [0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0];
    const DC_CHROMA_BITS: [u8; 16] = [0, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0];
    const DC_VALUES: [u8; 12] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];

    const AC_LUMA_BITS: [u8; 16] = [0, 2, 1, 3, 3, 2, 4, 3, 5, 5, 4, 4, 0, 0, 1, 0x7d];
    const AC_LUMA_VALUES: [u8; 162] = [
        0x01, 0x02, 0x03, 0x00, 0x04, 0x11, 0x05, 0x12, 0x21, 0x31, 0x41, 0x06, 0x13, 0x51, 0x61,
        0x07, 0x22, 0x71, 0x14, 0x32, 0x81, 0x91, 0xa1, 0x08, 0x23, 0x42, 0xb1, 0xc1, 0x15, 0x52,
        0xd1, 0xf0, 0x24, 0x33, 0x62, 0x72, 0x82, 0x09, 0x0a, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x25,
        0x26, 0x27, 0x28, 0x29, 0x2a, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39, 0x3a, 0x43, 0x44, 0x45,
        0x46, 0x47, 0x48, 0x49, 0x4a, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58, 0x59, 0x5a, 0x63, 0x64,
        0x65, 0x66, 0x67, 0x68, 0x69, 0x6a, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78, 0x79, 0x7a, 0x83,
        0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8a, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99,
        0x9a, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6,
        0xb7, 0xb8, 0xb9, 0xba, 0xc2, 0xc3, 0xc4, 0xc5, 0xc6, 0xc7, 0xc8, 0xc9, 0xca, 0xd2, 0xd3,
        0xd4, 0xd5, 0xd6, 0xd7, 0xd8, 0xd9, 0xda, 0xe1, 0xe2, 0xe3, 0xe4, 0xe5, 0xe6, 0xe7, 0xe8,
        0xe9, 0xea, 0xf1, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf7, 0xf8, 0xf9, 0xfa,
    ];

    const AC_CHROMA_BITS: [u8; 16] = [0, 2, 1, 2, 4, 4, 3, 4, 7, 5, 4, 4, 0, 1, 2, 0x77];
    const AC_CHROMA_VALUES: [u8; 162] = [
        0x00, 0x01, 0x02, 0x03, 0x11, 0x04, 0x05, 0x21, 0x31, 0x06, 0x12, 0x41, 0x51, 0x07, 0x61,
        0x71, 0x13, 0x22, 0x32, 0x81, 0x08, 0x14, 0x42, 0x91, 0xa1, 0xb1, 0xc1, 0x09, 0x23, 0x33,
        0x52, 0xf0, 0x15, 0x62, 0x72, 0xd1, 0x0a, 0x16, 0x24, 0x34, 0xe1, 0x25, 0xf1, 0x17, 0x18,
        0x19, 0x1a, 0x26, 0x27, 0x28, 0x29, 0x2a, 0x35, 0x36, 0x37, 0x38, 0x39, 0x3a, 0x43, 0x44,
        0x45, 0x46, 0x47, 0x48, 0x49, 0x4a, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58, 0x59, 0x5a, 0x63,
        0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6a, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78, 0x79, 0x7a,
        0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8a, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97,
        0x98, 0x99, 0x9a, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xb2, 0xb3, 0xb4,
        0xb5, 0xb6, 0xb7, 0xb8, 0xb9, 0xba, 0xc2, 0xc3, 0xc4, 0xc5, 0xc6, 0xc7, 0xc8, 0xc9, 0xca,
        0xd2, 0xd3, 0xd4, 0xd5, 0xd6, 0xd7, 0xd8, 0xd9, 0xda, 0xe2, 0xe3, 0xe4, 0xe5, 0xe6, 0xe7,
        0xe8, 0xe9, 0xea, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf7, 0xf8, 0xf9, 0xfa,
    ];

    /// Canonical Huffman codes by symbol: (code, length).
    struct Table {
        codes: [(u16, u8); 256],
    }

    impl Table {
        fn new(bits: &[u8; 16], values: &[u8]) -> Table {
            assert_eq!(
                bits.iter().map(|&b| usize::from(b)).sum::<usize>(),
                values.len()
            );
            let mut codes = [(0u16, 0u8); 256];
            let mut code = 0u16;
            let mut k = 0;
            for (i, &count) in bits.iter().enumerate() {
                for _ in 0..count {
                    codes[usize::from(values[k])] = (code, i as u8 + 1);
                    code += 1;
                    k += 1;
                }
                code <<= 1;
            }
            Table { codes }
        }
    }

    /// The entropy-coded segment, with 0xFF bytes stuffed.
    #[derive(Default)]
    struct Bits {
        out: Vec<u8>,
        acc: u32,
        count: u32,
    }

    impl Bits {
        fn put(&mut self, value: u16, length: u8) {
            for i in (0..length).rev() {
                self.acc = (self.acc << 1) | u32::from((value >> i) & 1);
                self.count += 1;
                if self.count == 8 {
                    let byte = self.acc as u8;
                    self.out.push(byte);
                    if byte == 0xff {
                        self.out.push(0);
                    }
                    self.acc = 0;
                    self.count = 0;
                }
            }
        }

        fn symbol(&mut self, table: &Table, symbol: u8) {
            let (code, length) = table.codes[usize::from(symbol)];
            assert!(length > 0, "symbol {symbol:#x} has no code");
            self.put(code, length);
        }

        fn finish(mut self) -> Vec<u8> {
            while self.count != 0 {
                self.put(1, 1);
            }
            self.out
        }
    }

    /// The bit length of |v| (JPEG's "category") and v's bits in that length.
    fn category(v: i32) -> (u8, u16) {
        let magnitude = v.unsigned_abs();
        let size = (32 - magnitude.leading_zeros()) as u8;
        let bits = if v < 0 { v - 1 } else { v };
        let mask = (1i32 << size) - 1;
        (size, (bits & mask) as u16)
    }

    fn scaled(table: &[u32; 64], quality: u32) -> [u32; 64] {
        let scale = if quality < 50 {
            5000 / quality
        } else {
            200 - 2 * quality
        };
        table.map(|q| ((q * scale + 50) / 100).clamp(1, 255))
    }

    fn marker(out: &mut Vec<u8>, kind: u8, payload: &[u8]) {
        out.extend([0xff, kind]);
        out.extend(((payload.len() + 2) as u16).to_be_bytes());
        out.extend(payload);
    }

    /// Encodes packed RGB8 (`width` and `height` multiples of 8).
    pub fn encode(rgb: &[u8], width: usize, height: usize, quality: u32) -> Vec<u8> {
        assert!(width.is_multiple_of(8) && height.is_multiple_of(8));
        let quant = [scaled(&LUMA_QUANT, quality), scaled(&CHROMA_QUANT, quality)];
        let dc = [
            Table::new(&DC_LUMA_BITS, &DC_VALUES),
            Table::new(&DC_CHROMA_BITS, &DC_VALUES),
        ];
        let ac = [
            Table::new(&AC_LUMA_BITS, &AC_LUMA_VALUES),
            Table::new(&AC_CHROMA_BITS, &AC_CHROMA_VALUES),
        ];

        // Planes of Y, Cb, Cr, level-shifted by -128.
        let mut planes = vec![vec![0f64; width * height]; 3];
        for (i, p) in rgb.chunks_exact(3).enumerate() {
            let (r, g, b) = (f64::from(p[0]), f64::from(p[1]), f64::from(p[2]));
            planes[0][i] = 0.299 * r + 0.587 * g + 0.114 * b - 128.0;
            planes[1][i] = -0.168_736 * r - 0.331_264 * g + 0.5 * b;
            planes[2][i] = 0.5 * r - 0.418_688 * g - 0.081_312 * b;
        }

        let mut cosines = [[0f64; 8]; 8];
        for (x, row) in cosines.iter_mut().enumerate() {
            for (u, c) in row.iter_mut().enumerate() {
                let cu = if u == 0 {
                    std::f64::consts::FRAC_1_SQRT_2
                } else {
                    1.0
                };
                *c = cu * ((2 * x + 1) as f64 * u as f64 * std::f64::consts::PI / 16.0).cos();
            }
        }

        let mut bits = Bits::default();
        let mut predictions = [0i32; 3];
        for by in (0..height).step_by(8) {
            for bx in (0..width).step_by(8) {
                for component in 0..3 {
                    let table = usize::from(component != 0);
                    let plane = &planes[component];
                    // Separable DCT: rows, then columns.
                    let mut rows = [[0f64; 8]; 8];
                    for y in 0..8 {
                        for u in 0..8 {
                            rows[y][u] = (0..8)
                                .map(|x| plane[(by + y) * width + bx + x] * cosines[x][u])
                                .sum();
                        }
                    }
                    let mut zz = [0i32; 64];
                    for (i, &natural) in ZIGZAG.iter().enumerate() {
                        let (v, u) = (natural / 8, natural % 8);
                        let coefficient: f64 =
                            (0..8).map(|y| rows[y][u] * cosines[y][v]).sum::<f64>() / 4.0;
                        zz[i] = (coefficient / f64::from(quant[table][natural])).round() as i32;
                    }

                    let diff = zz[0] - predictions[component];
                    predictions[component] = zz[0];
                    let (size, value) = category(diff);
                    bits.symbol(&dc[table], size);
                    bits.put(value, size);

                    let mut run = 0u8;
                    for &coefficient in &zz[1..] {
                        if coefficient == 0 {
                            run += 1;
                            continue;
                        }
                        while run > 15 {
                            bits.symbol(&ac[table], 0xf0);
                            run -= 16;
                        }
                        let (size, value) = category(coefficient);
                        bits.symbol(&ac[table], (run << 4) | size);
                        bits.put(value, size);
                        run = 0;
                    }
                    if run > 0 {
                        bits.symbol(&ac[table], 0x00);
                    }
                }
            }
        }

        let mut out = vec![0xff, 0xd8];
        marker(&mut out, 0xe0, b"JFIF\0\x01\x01\0\0\x01\0\x01\0\0");
        let mut dqt = Vec::new();
        for (id, table) in quant.iter().enumerate() {
            dqt.push(id as u8);
            dqt.extend(ZIGZAG.iter().map(|&n| table[n] as u8));
        }
        marker(&mut out, 0xdb, &dqt);
        let mut sof = vec![8];
        sof.extend((height as u16).to_be_bytes());
        sof.extend((width as u16).to_be_bytes());
        sof.extend([3, 1, 0x11, 0, 2, 0x11, 1, 3, 0x11, 1]);
        marker(&mut out, 0xc0, &sof);
        let mut dht = Vec::new();
        for (class_id, table_bits, values) in [
            (0x00u8, &DC_LUMA_BITS, &DC_VALUES[..]),
            (0x10, &AC_LUMA_BITS, &AC_LUMA_VALUES[..]),
            (0x01, &DC_CHROMA_BITS, &DC_VALUES[..]),
            (0x11, &AC_CHROMA_BITS, &AC_CHROMA_VALUES[..]),
        ] {
            dht.push(class_id);
            dht.extend(table_bits);
            dht.extend(values);
        }
        marker(&mut out, 0xc4, &dht);
        marker(&mut out, 0xda, &[3, 1, 0x00, 2, 0x11, 3, 0x11, 0, 63, 0]);
        out.extend(bits.finish());
        out.extend([0xff, 0xd9]);
        out
    }
}

/// The test encoder itself: libjpeg-turbo (through `media`) reads it back close to the source.
#[test]
fn the_test_jpeg_decodes_close_to_its_source() {
    let source = picture(false);
    let jpeg = &images().jpeg;
    assert_eq!(media::sniff(jpeg), Some(media::Format::Jpeg));
    let decoded = media::decode_rgb(jpeg, &media::Limits::default()).unwrap();
    assert_eq!((decoded.width, decoded.height), (SIDE, SIDE));
    let error: u64 = decoded
        .data
        .iter()
        .zip(&source)
        .map(|(&a, &b)| u64::from(a.abs_diff(b)))
        .sum();
    let mean = error as f64 / source.len() as f64;
    assert!(mean < 3.0, "mean absolute error {mean}");
}
