//! The attribution resolver against a real DNS server on loopback (`ntd::testing::TestDns`).
//!
//! Only documentation addresses (RFC 5737, RFC 3849) and `.example` names.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use ntd::dns::{DnsConfig, DnsError, Resolution, Resolver, resolve_all};
use ntd::testing::{TestDns, TestRecord};

fn v4(s: &str) -> Ipv4Addr {
    s.parse().expect("IPv4 literal")
}

fn v6(s: &str) -> Ipv6Addr {
    s.parse().expect("IPv6 literal")
}

fn ip(s: &str) -> IpAddr {
    s.parse().expect("IP literal")
}

fn resolver_for(addr: SocketAddr) -> Resolver {
    Resolver::new(&DnsConfig {
        servers: vec![addr],
        timeout: Duration::from_secs(2),
        attempts: 2,
    })
    .expect("resolver")
}

#[tokio::test]
async fn a_records_only() {
    let dns = TestDns::start(&[
        ("www.hoster-a.example", TestRecord::A(v4("192.0.2.11"))),
        ("www.hoster-a.example", TestRecord::A(v4("192.0.2.10"))),
    ])
    .unwrap();
    let resolution = resolver_for(dns.addr())
        .resolve("www.hoster-a.example")
        .await
        .unwrap();
    assert_eq!(
        resolution,
        Resolution {
            host: "www.hoster-a.example".to_owned(),
            cnames: vec![],
            addrs: vec![ip("192.0.2.10"), ip("192.0.2.11")],
        }
    );
    assert_eq!(dns.queries(), 2, "one A and one AAAA query");
}

#[tokio::test]
async fn aaaa_records_only() {
    let dns =
        TestDns::start(&[("v6.hoster-b.example", TestRecord::Aaaa(v6("2001:db8::20")))]).unwrap();
    let resolution = resolver_for(dns.addr())
        .resolve("v6.hoster-b.example")
        .await
        .unwrap();
    assert_eq!(resolution.addrs, vec![ip("2001:db8::20")]);
    assert!(resolution.cnames.is_empty());
}

#[tokio::test]
async fn both_families_v4_first_sorted_and_deduplicated() {
    let dns = TestDns::start(&[
        ("dual.hoster-c.example", TestRecord::Aaaa(v6("2001:db8::7"))),
        ("dual.hoster-c.example", TestRecord::Aaaa(v6("2001:db8::3"))),
        ("dual.hoster-c.example", TestRecord::A(v4("198.51.100.7"))),
        ("dual.hoster-c.example", TestRecord::A(v4("198.51.100.7"))),
        ("dual.hoster-c.example", TestRecord::A(v4("198.51.100.2"))),
    ])
    .unwrap();
    let resolution = resolver_for(dns.addr())
        .resolve("dual.hoster-c.example")
        .await
        .unwrap();
    assert_eq!(
        resolution.addrs,
        vec![
            ip("198.51.100.2"),
            ip("198.51.100.7"),
            ip("2001:db8::3"),
            ip("2001:db8::7"),
        ]
    );
}

#[tokio::test]
async fn cname_chain_of_two_hops_is_kept_in_order() {
    let dns = TestDns::start(&[
        (
            "www.shop.example",
            TestRecord::Cname("shop.cdn-a.example".to_owned()),
        ),
        (
            "shop.cdn-a.example",
            TestRecord::Cname("edge.cdn-b.example.".to_owned()),
        ),
        ("edge.cdn-b.example", TestRecord::A(v4("203.0.113.5"))),
        ("edge.cdn-b.example", TestRecord::Aaaa(v6("2001:db8:5::1"))),
    ])
    .unwrap();
    // Case and the trailing dot of an absolute name do not matter.
    let resolution = resolver_for(dns.addr())
        .resolve("WWW.Shop.Example.")
        .await
        .unwrap();
    assert_eq!(
        resolution,
        Resolution {
            host: "www.shop.example".to_owned(),
            cnames: vec![
                "shop.cdn-a.example".to_owned(),
                "edge.cdn-b.example".to_owned()
            ],
            addrs: vec![ip("203.0.113.5"), ip("2001:db8:5::1")],
        }
    );
    // The server follows the chain itself: no follow-up queries for the targets.
    assert_eq!(dns.queries(), 2);
}

#[tokio::test]
async fn cname_to_a_target_with_only_an_a_record() {
    let dns = TestDns::start(&[
        (
            "files.hoster-d.example",
            TestRecord::Cname("store.hoster-d.example".to_owned()),
        ),
        ("store.hoster-d.example", TestRecord::A(v4("192.0.2.44"))),
    ])
    .unwrap();
    let resolution = resolver_for(dns.addr())
        .resolve("files.hoster-d.example")
        .await
        .unwrap();
    assert_eq!(resolution.cnames, vec!["store.hoster-d.example".to_owned()]);
    assert_eq!(resolution.addrs, vec![ip("192.0.2.44")]);
}

#[tokio::test]
async fn nxdomain_is_not_found() {
    let dns = TestDns::start(&[("www.hoster-a.example", TestRecord::A(v4("192.0.2.10")))]).unwrap();
    let err = resolver_for(dns.addr())
        .resolve("gone.hoster-a.example")
        .await
        .unwrap_err();
    match &err {
        DnsError::NotFound(message) => {
            assert!(message.contains("gone.hoster-a.example"), "{message}");
        }
        other => panic!("expected NotFound, got {other:?}"),
    }
    assert!(dns.queries() >= 2, "the server was asked");
}

#[tokio::test]
async fn dangling_cname_is_not_found() {
    let dns = TestDns::start(&[(
        "old.hoster-e.example",
        TestRecord::Cname("missing.hoster-e.example".to_owned()),
    )])
    .unwrap();
    let err = resolver_for(dns.addr())
        .resolve("old.hoster-e.example")
        .await
        .unwrap_err();
    assert!(matches!(err, DnsError::NotFound(_)), "{err:?}");
}

#[tokio::test]
async fn ip_literals_are_returned_without_a_query() {
    let dns = TestDns::start(&[("www.hoster-a.example", TestRecord::A(v4("192.0.2.10")))]).unwrap();
    let resolver = resolver_for(dns.addr());
    for (host, want_host, addr) in [
        ("192.0.2.1", "192.0.2.1", "192.0.2.1"),
        ("2001:db8::1", "2001:db8::1", "2001:db8::1"),
        ("[2001:DB8::1]", "2001:db8::1", "2001:db8::1"),
    ] {
        let resolution = resolver.resolve(host).await.unwrap();
        assert_eq!(resolution.host, want_host);
        assert!(resolution.cnames.is_empty());
        assert_eq!(resolution.addrs, vec![ip(addr)]);
    }
    assert_eq!(dns.queries(), 0);
}

#[tokio::test]
async fn every_resolve_asks_the_server_again() {
    let dns = TestDns::start(&[("www.hoster-a.example", TestRecord::A(v4("192.0.2.10")))]).unwrap();
    let resolver = resolver_for(dns.addr());
    for round in 1..=3u64 {
        resolver.resolve("www.hoster-a.example").await.unwrap();
        assert_eq!(dns.queries(), 2 * round, "no cache below the batch");
    }
    // The same holds for negative answers.
    for round in 1..=2u64 {
        resolver.resolve("nx.hoster-a.example").await.unwrap_err();
        assert_eq!(dns.queries(), 6 + 2 * round);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn resolve_all_asks_for_each_distinct_name_once() {
    let names: Vec<String> = (0..50)
        .map(|i| format!("host{i}.hoster-f.example"))
        .collect();
    let records: Vec<(&str, TestRecord)> = names
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let last = u8::try_from(i + 1).unwrap();
            (name.as_str(), TestRecord::A(Ipv4Addr::new(192, 0, 2, last)))
        })
        .collect();
    let dns = TestDns::start(&records).unwrap();
    let resolver = resolver_for(dns.addr());

    // Each name 20 times, interleaved.
    let hosts = (0..20).flat_map(|_| names.iter().cloned());
    let results = resolve_all(&resolver, hosts, 8).await;

    assert_eq!(results.len(), 50);
    for (i, name) in names.iter().enumerate() {
        let resolution = results[name].as_ref().unwrap();
        let last = u8::try_from(i + 1).unwrap();
        assert_eq!(
            resolution.addrs,
            vec![IpAddr::V4(Ipv4Addr::new(192, 0, 2, last))]
        );
    }
    assert!(
        dns.queries() <= 100,
        "{} queries for 50 names",
        dns.queries()
    );
    assert!(dns.queries() >= 100, "each name was asked (A and AAAA)");
}

#[tokio::test]
async fn resolve_all_merges_spellings_and_keeps_errors() {
    let dns = TestDns::start(&[("www.hoster-a.example", TestRecord::A(v4("192.0.2.10")))]).unwrap();
    let resolver = resolver_for(dns.addr());
    let hosts = [
        "www.hoster-a.example",
        "WWW.hoster-a.example.",
        "nx.hoster-a.example",
        "203.0.113.9",
    ]
    .map(str::to_owned);
    let results = resolve_all(&resolver, hosts, 0).await;

    assert_eq!(results.len(), 4, "one entry per distinct spelling");
    assert_eq!(
        results["www.hoster-a.example"],
        results["WWW.hoster-a.example."]
    );
    assert_eq!(
        results["www.hoster-a.example"].as_ref().unwrap().addrs,
        vec![ip("192.0.2.10")]
    );
    assert!(matches!(
        results["nx.hoster-a.example"],
        Err(DnsError::NotFound(_))
    ));
    assert_eq!(
        results["203.0.113.9"].as_ref().unwrap().addrs,
        vec![ip("203.0.113.9")]
    );
    assert_eq!(dns.queries(), 4, "two names asked, A and AAAA each");
}

#[tokio::test]
async fn a_silent_server_times_out_within_the_configured_timeout() {
    let silent = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let resolver = Resolver::new(&DnsConfig {
        servers: vec![silent.local_addr().unwrap()],
        timeout: Duration::from_millis(300),
        attempts: 1,
    })
    .unwrap();

    let started = Instant::now();
    let err = resolver.resolve("www.hoster-a.example").await.unwrap_err();
    let elapsed = started.elapsed();

    assert!(matches!(err, DnsError::Timeout(_)), "{err:?}");
    assert!(
        elapsed >= Duration::from_millis(250),
        "gave up too early: {elapsed:?}"
    );
    assert!(
        elapsed < Duration::from_millis(800),
        "took {elapsed:?} for a 300 ms timeout"
    );
    // The queries did reach the socket.
    silent.set_nonblocking(true).unwrap();
    let mut buf = [0u8; 512];
    assert!(silent.recv_from(&mut buf).is_ok(), "no query was sent");
}

#[tokio::test]
async fn truncated_udp_answers_are_retried_over_tcp() {
    // 120 A records do not fit a UDP answer (about 2 kB); the full set needs TCP.
    let addrs: Vec<Ipv4Addr> = (1..=120u8)
        .map(|i| Ipv4Addr::new(198, 51, 100, i))
        .collect();
    let records: Vec<(&str, TestRecord)> = addrs
        .iter()
        .map(|&a| ("big.hoster-g.example", TestRecord::A(a)))
        .collect();
    let dns = TestDns::start(&records).unwrap();
    let resolution = resolver_for(dns.addr())
        .resolve("big.hoster-g.example")
        .await
        .unwrap();
    let want: Vec<IpAddr> = addrs.into_iter().map(IpAddr::V4).collect();
    assert_eq!(resolution.addrs, want);
    assert!(dns.queries() >= 3, "the A query went over UDP, then TCP");
}

#[test]
fn the_server_works_from_a_plain_test() {
    let dns = TestDns::start(&[("www.hoster-a.example", TestRecord::A(v4("192.0.2.10")))]).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let resolution = runtime
        .block_on(resolver_for(dns.addr()).resolve("www.hoster-a.example"))
        .unwrap();
    assert_eq!(resolution.addrs, vec![ip("192.0.2.10")]);
    assert_eq!(dns.queries(), 2);
}

#[tokio::test]
async fn a_dropped_server_stops_answering() {
    let dns = TestDns::start(&[("www.hoster-a.example", TestRecord::A(v4("192.0.2.10")))]).unwrap();
    let addr = dns.addr();
    drop(dns);
    let resolver = Resolver::new(&DnsConfig {
        servers: vec![addr],
        timeout: Duration::from_millis(300),
        attempts: 1,
    })
    .unwrap();
    assert!(resolver.resolve("www.hoster-a.example").await.is_err());
}

#[test]
fn a_cname_beside_other_records_is_refused() {
    let err = TestDns::start(&[
        ("www.hoster-a.example", TestRecord::A(v4("192.0.2.10"))),
        (
            "www.hoster-a.example",
            TestRecord::Cname("other.hoster-a.example".to_owned()),
        ),
    ])
    .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
}

#[test]
fn defaults_and_invalid_names() {
    let config = DnsConfig::default();
    assert!(config.servers.is_empty());
    assert_eq!(config.timeout, Duration::from_secs(3));
    assert_eq!(config.attempts, 2);

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    // Never reaches the (unroutable documentation) server: the names are refused first.
    let resolver = resolver_for("192.0.2.53:53".parse().unwrap());
    for bad in ["", "bad name.example", "a..example"] {
        let err = runtime.block_on(resolver.resolve(bad)).unwrap_err();
        assert!(matches!(err, DnsError::Failed(_)), "{bad:?}: {err:?}");
    }
}
