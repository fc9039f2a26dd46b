//! Test support (feature `testing`): a real DNS server on loopback.
//!
//! [`TestDns`] serves a fixed set of records over UDP and TCP on `127.0.0.1`, so the
//! [`crate::dns::Resolver`] can be tested (and benchmarked) end to end, through its real
//! sockets and wire format, without a network or the machine's `/etc/resolv.conf`:
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use ntd::dns::{DnsConfig, Resolver};
//! use ntd::testing::{TestDns, TestRecord};
//!
//! let dns = TestDns::start(&[("www.hoster-a.example", TestRecord::A("192.0.2.10".parse()?))])?;
//! let resolver = Resolver::new(&DnsConfig { servers: vec![dns.addr()], ..DnsConfig::default() })?;
//! assert_eq!(resolver.resolve("www.hoster-a.example").await?.addrs, ["192.0.2.10".parse::<std::net::IpAddr>()?]);
//! assert_eq!(dns.queries(), 2); // A and AAAA
//! # Ok(())
//! # }
//! ```
//!
//! It is built on `hickory-server` with a small request handler that answers from a map
//! (rather than an in-memory zone per domain, which would need SOA and NS bookkeeping for
//! every made-up zone) and counts the queries it answers. It behaves like an authoritative
//! server for every name it holds: a CNAME is followed within its data, so the answer to a
//! query for an alias is the chain plus the target's records; an unknown name is NXDOMAIN; a
//! known name without records of the asked type is an empty NOERROR answer. Negative answers
//! carry an SOA with a zero TTL; records have a TTL of 60 s (the resolver caches nothing
//! anyway, which the tests check).
//!
//! The server runs on its own thread with its own single-threaded tokio runtime, so it works
//! from a plain `#[test]`, from `#[tokio::test]` (of either flavour) and while the test waits
//! on a child process. Starting one takes well under a millisecond of work plus a thread
//! spawn; dropping it stops the server and joins the thread.

use std::collections::HashMap;
use std::fmt;
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use hickory_proto::op::{Header, HeaderCounts, MessageType, Metadata, OpCode, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA, CNAME, SOA};
use hickory_proto::rr::{DNSClass, LowerName, Name, RData, Record, RecordType};
use hickory_server::Server;
use hickory_server::net::runtime::Time;
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::zone_handler::MessageResponseBuilder;
use tokio::sync::oneshot;

/// The TTL of the served records, in seconds.
const RECORD_TTL: u32 = 60;
/// The longest CNAME chain the server follows within its data.
const MAX_CHAIN: usize = 16;
/// How long an idle TCP connection to the server is kept open.
const TCP_IDLE: Duration = Duration::from_secs(10);

/// One record for [`TestDns::start`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TestRecord {
    /// An IPv4 address.
    A(Ipv4Addr),
    /// An IPv6 address.
    Aaaa(Ipv6Addr),
    /// An alias for another name (absolute, with or without the trailing dot). A name with a
    /// CNAME can have no other record.
    Cname(String),
}

/// A running authoritative DNS server on `127.0.0.1` (UDP and TCP, same port). Stops on drop.
pub struct TestDns {
    addr: SocketAddr,
    queries: Arc<AtomicU64>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl fmt::Debug for TestDns {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestDns")
            .field("addr", &self.addr)
            .field("queries", &self.queries())
            .finish_non_exhaustive()
    }
}

impl TestDns {
    /// Starts an authoritative server for the given names (any zone; names are absolute, e.g.
    /// "www.hoster-a.example") on `127.0.0.1:<free port>`, UDP and TCP, on its own thread with its
    /// own tokio runtime (so it works from both #[test] and #[tokio::test] and from a test that
    /// spawns other processes), answering NXDOMAIN for unknown names and following CNAMEs within
    /// its data (so a query for a CNAME name returns the CNAME plus the target's A/AAAA like a
    /// normal authoritative server).
    ///
    /// A name may be listed several times (one record each). Fails with `InvalidInput` for a
    /// name that is not a valid DNS name or that has a CNAME and other records, and with the
    /// socket's error when no port could be bound. The sockets are bound before this returns,
    /// so the server can be queried at once.
    pub fn start(records: &[(&str, TestRecord)]) -> io::Result<TestDns> {
        let zone = Zone::build(records)?;
        let (udp, tcp) = bind_pair()?;
        let addr = udp.local_addr()?;
        udp.set_nonblocking(true)?;
        tcp.set_nonblocking(true)?;

        let queries = Arc::new(AtomicU64::new(0));
        let handler = Handler {
            zone: Arc::new(zone),
            queries: queries.clone(),
        };
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<io::Result<()>>();

        let thread = std::thread::Builder::new()
            .name(format!("test-dns-{}", addr.port()))
            .spawn(move || serve(udp, tcp, handler, stop_rx, ready_tx))?;

        match ready_rx.recv() {
            Ok(Ok(())) => Ok(TestDns {
                addr,
                queries,
                stop: Some(stop_tx),
                thread: Some(thread),
            }),
            Ok(Err(e)) => {
                let _ = thread.join();
                Err(e)
            }
            Err(_) => {
                let _ = thread.join();
                Err(io::Error::other(
                    "the test DNS server thread died while starting",
                ))
            }
        }
    }

    /// Where the server listens (UDP and TCP): `127.0.0.1:<port>`.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// How many queries it has answered so far (over UDP and TCP).
    pub fn queries(&self) -> u64 {
        self.queries.load(Ordering::SeqCst)
    }
}

impl Drop for TestDns {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Binds a UDP socket on a free loopback port and a TCP listener on the same port.
fn bind_pair() -> io::Result<(UdpSocket, TcpListener)> {
    let mut last_error = None;
    for _ in 0..32 {
        let udp = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))?;
        let addr = udp.local_addr()?;
        match TcpListener::bind(addr) {
            Ok(tcp) => return Ok((udp, tcp)),
            Err(e) => last_error = Some(e),
        }
    }
    Err(last_error.unwrap_or_else(|| io::Error::other("no free port for the test DNS server")))
}

/// The server thread: its own runtime, the server, and a wait for the stop signal.
fn serve(
    udp: UdpSocket,
    tcp: TcpListener,
    handler: Handler,
    stop: oneshot::Receiver<()>,
    ready: std::sync::mpsc::Sender<io::Result<()>>,
) {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            let _ = ready.send(Err(e));
            return;
        }
    };
    runtime.block_on(async move {
        let sockets = tokio::net::UdpSocket::from_std(udp)
            .and_then(|udp| Ok((udp, tokio::net::TcpListener::from_std(tcp)?)));
        let (udp, tcp) = match sockets {
            Ok(sockets) => sockets,
            Err(e) => {
                let _ = ready.send(Err(e));
                return;
            }
        };
        let mut server = Server::new(handler);
        server.register_socket(udp);
        server.register_listener(tcp, TCP_IDLE, 64);
        let _ = ready.send(Ok(()));

        // Stop when told, or when the `TestDns` is gone without telling (the sender dropped).
        let _ = stop.await;
        // Open TCP connections could hold a graceful shutdown up; the runtime's end stops them.
        let _ = tokio::time::timeout(Duration::from_secs(1), server.shutdown_gracefully()).await;
    });
}

/// What a name holds.
#[derive(Debug)]
enum Entry {
    Alias(Name),
    Addrs(Vec<RData>),
}

/// The served data, by lowercase absolute name.
#[derive(Debug)]
struct Zone {
    names: HashMap<LowerName, Entry>,
}

impl Zone {
    fn build(records: &[(&str, TestRecord)]) -> io::Result<Zone> {
        let mut names: HashMap<LowerName, Entry> = HashMap::new();
        for (name, record) in records {
            let owner = LowerName::from(absolute(name)?);
            let rdata = match record {
                TestRecord::A(a) => RData::A(A(*a)),
                TestRecord::Aaaa(a) => RData::AAAA(AAAA(*a)),
                TestRecord::Cname(target) => {
                    if names.contains_key(&owner) {
                        return Err(cname_conflict(name));
                    }
                    names.insert(owner, Entry::Alias(absolute(target)?));
                    continue;
                }
            };
            match names
                .entry(owner)
                .or_insert_with(|| Entry::Addrs(Vec::new()))
            {
                Entry::Alias(_) => return Err(cname_conflict(name)),
                Entry::Addrs(list) => {
                    if !list.contains(&rdata) {
                        list.push(rdata);
                    }
                }
            }
        }
        Ok(Zone { names })
    }

    /// The answer records for `qname`/`qtype` (following CNAMEs) and the response code.
    fn answer(&self, qname: &LowerName, qtype: RecordType) -> (Vec<Record>, ResponseCode) {
        let mut answers = Vec::new();
        let mut current = qname.clone();
        for _ in 0..MAX_CHAIN {
            match self.names.get(&current) {
                None => return (answers, ResponseCode::NXDomain),
                Some(Entry::Alias(target)) => {
                    answers.push(Record::from_rdata(
                        Name::from(current.clone()),
                        RECORD_TTL,
                        RData::CNAME(CNAME(target.clone())),
                    ));
                    if qtype == RecordType::CNAME {
                        break;
                    }
                    current = LowerName::from(target.clone());
                }
                Some(Entry::Addrs(rdatas)) => {
                    let owner = Name::from(current.clone());
                    answers.extend(
                        rdatas
                            .iter()
                            .filter(|r| qtype == RecordType::ANY || r.record_type() == qtype)
                            .map(|r| Record::from_rdata(owner.clone(), RECORD_TTL, r.clone())),
                    );
                    break;
                }
            }
        }
        (answers, ResponseCode::NoError)
    }
}

fn cname_conflict(name: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("{name}: a name with a CNAME can have no other record"),
    )
}

fn absolute(name: &str) -> io::Result<Name> {
    let mut parsed = Name::from_utf8(name).map_err(|e| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{name}: not a DNS name: {e}"),
        )
    })?;
    parsed.set_fqdn(true);
    Ok(parsed.to_lowercase())
}

/// A zero-TTL SOA for negative answers, owned by the last two labels of the asked name.
fn negative_soa(qname: &LowerName) -> Record {
    let name = Name::from(qname.clone());
    let owner = if name.num_labels() > 2 {
        name.trim_to(2)
    } else {
        name
    };
    let mname = Name::from_ascii("ns.test-dns.example.").unwrap_or_default();
    let rname = Name::from_ascii("hostmaster.test-dns.example.").unwrap_or_default();
    Record::from_rdata(
        owner,
        0,
        RData::SOA(SOA::new(mname, rname, 1, 3600, 600, 86400, 0)),
    )
}

/// Answers queries from the [`Zone`] and counts them.
struct Handler {
    zone: Arc<Zone>,
    queries: Arc<AtomicU64>,
}

#[async_trait::async_trait]
impl RequestHandler for Handler {
    async fn handle_request<R: ResponseHandler, T: Time>(
        &self,
        request: &Request,
        mut response_handle: R,
    ) -> ResponseInfo {
        self.queries.fetch_add(1, Ordering::SeqCst);
        let builder = MessageResponseBuilder::from_message_request(request);

        let query = match request.request_info() {
            Ok(info)
                if request.metadata.message_type == MessageType::Query
                    && request.metadata.op_code == OpCode::Query
                    && info.query.query_class() == DNSClass::IN =>
            {
                info.query
            }
            Ok(_) => {
                let response = builder.error_msg(&request.metadata, ResponseCode::NotImp);
                return send(&mut response_handle, response, &request.metadata).await;
            }
            Err(_) => {
                let response = builder.error_msg(&request.metadata, ResponseCode::FormErr);
                return send(&mut response_handle, response, &request.metadata).await;
            }
        };

        let (answers, code) = self.zone.answer(query.name(), query.query_type());
        let soa = if answers.is_empty() {
            Some(negative_soa(query.name()))
        } else {
            None
        };
        let mut metadata = Metadata::response_from_request(&request.metadata);
        metadata.authoritative = true;
        metadata.response_code = code;
        let response = builder.build(metadata, answers.iter(), [], soa.iter(), []);
        send(&mut response_handle, response, &request.metadata).await
    }
}

async fn send<'a, R: ResponseHandler>(
    handle: &mut R,
    response: hickory_server::zone_handler::MessageResponse<
        '_,
        'a,
        impl Iterator<Item = &'a Record> + Send + 'a,
        impl Iterator<Item = &'a Record> + Send + 'a,
        impl Iterator<Item = &'a Record> + Send + 'a,
        impl Iterator<Item = &'a Record> + Send + 'a,
    >,
    request: &Metadata,
) -> ResponseInfo {
    match handle.send_response(response).await {
        Ok(info) => info,
        Err(e) => {
            tracing::warn!(error = %e, "test DNS server: sending a response failed");
            let mut metadata = Metadata::response_from_request(request);
            metadata.response_code = ResponseCode::ServFail;
            ResponseInfo::from(Header {
                metadata,
                counts: HeaderCounts::default(),
            })
        }
    }
}
