//! Test support: a fresh database per test on each backend, and an iCal host on loopback.
//! Used by the test suites and benchmarks of `server` and `app`; nothing in the running
//! service links it.
use server::db::{self, Pool};
use std::sync::atomic::{AtomicU32, Ordering};

/// The environment variable naming a PostgreSQL server for tests (`make test` starts one).
pub const PG_URL_VAR: &str = "CALSYNC_TEST_DATABASE_URL";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Sqlite,
    Postgres,
}

/// A migrated, empty database that lives as long as this value.
pub struct TestDb {
    pub url: String,
    pub pool: Pool,
    /// A fresh token-encryption key for this test.
    pub keys: server::crypto::Keyring,
    /// This test's own folder (the SQLite file lives there), removed with it.
    dir: TempDir,
}

/// A folder of a test's own under the system's temporary folder, removed when dropped.
pub struct TempDir(std::path::PathBuf);

impl TempDir {
    pub fn new(prefix: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("{prefix}_{}", unique()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        TempDir(dir)
    }

    pub fn path(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

fn unique() -> String {
    format!("{}_{}_{}", std::process::id(), COUNTER.fetch_add(1, Ordering::SeqCst), chrono::Utc::now().timestamp_micros() % 1_000_000)
}

impl TestDb {
    pub async fn new(kind: Kind) -> TestDb {
        match kind {
            Kind::Sqlite => {
                let dir = TempDir::new("calsync_test");
                let url = format!("sqlite://{}", dir.path().join("test.db").display());
                Self::migrated(url, dir).await
            }
            Kind::Postgres => {
                let base = std::env::var(PG_URL_VAR).unwrap_or_else(|_| {
                    panic!("{PG_URL_VAR} is not set: every database test runs on PostgreSQL too. `make test` starts a throwaway server and sets it.")
                });
                let name = format!("calsync_test_{}", unique());
                let admin = Pool::connect_sized(&base, 1).await.expect("connect to test PostgreSQL");
                {
                    use diesel_async::SimpleAsyncConnection;
                    let mut pooled = admin.get().await.expect("connection");
                    if let db::Conn::Pg(c) = pooled.conn() {
                        c.batch_execute(&format!("CREATE DATABASE {name}")).await.expect("create database");
                    }
                }
                let url = replace_db_name(&base, &name);
                Self::migrated(url, TempDir::new("calsync_test")).await
            }
        }
    }

    /// A folder that lives as long as the database (a data directory, say).
    pub fn dir(&self) -> &std::path::Path {
        self.dir.path()
    }

    async fn migrated(url: String, dir: TempDir) -> TestDb {
        db::run_migrations(&url).await.expect("migrations");
        let pool = Pool::connect_sized(&url, 4).await.expect("pool");
        let keys = server::crypto::Keyring::new(vec![server::crypto::KeyEntry::generate("k1")]).expect("keyring");
        TestDb { url, pool, keys, dir }
    }
}

/// `postgres://u@h:p/db?x` → `postgres://u@h:p/NAME?x`
pub fn replace_db_name(url: &str, name: &str) -> String {
    let (head, query) = match url.split_once('?') {
        Some((h, q)) => (h, Some(q)),
        None => (url, None),
    };
    let scheme_end = head.find("://").map(|i| i + 3).unwrap_or(0);
    let base = match head[scheme_end..].find('/') {
        Some(i) => &head[..scheme_end + i],
        None => head,
    };
    match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    }
}

/// Defines one test per backend: `NAME::sqlite` and `NAME::postgres`, each on a fresh database.
/// The body is an async block that receives `db: TestDb`.
#[macro_export]
macro_rules! db_test {
    ($name:ident, |$db:ident| $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            async fn body($db: $crate::TestDb) $body

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                body($crate::TestDb::new($crate::Kind::Sqlite).await).await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                body($crate::TestDb::new($crate::Kind::Postgres).await).await
            }
        }
    };
}

/// An iCal host on loopback for tests: serves feeds with ETag and 304, and can answer with an
/// error status, a redirect, a web page, a stalled or an endless body.
pub mod feeds {
    use axum::{
        body::Body,
        http::{header, HeaderMap, StatusCode, Uri},
        response::{IntoResponse, Response},
    };
    use std::collections::HashMap;
    use std::net::{IpAddr, SocketAddr};
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    #[derive(Clone, Debug)]
    pub enum Reply {
        /// 200 with an ETag; 304 when the request names that ETag.
        Feed(String),
        /// 200 without validators: the same body every time.
        Plain(String),
        Status(u16),
        /// 429 with `Retry-After: SECONDS`.
        Throttled(u64),
        Redirect(String),
        Html(String),
        /// Waits this long before answering.
        Stall(Duration),
        /// A chunked body (no Content-Length) of this many bytes.
        Endless(usize),
        /// This body in chunked transfer (no Content-Length), in pieces of 64 bytes.
        Chunked(String),
    }

    #[derive(Default)]
    struct State {
        replies: HashMap<String, Reply>,
        requests: usize,
        not_modified: usize,
    }

    #[derive(Clone)]
    pub struct FeedHost {
        pub addr: SocketAddr,
        state: Arc<Mutex<State>>,
    }

    fn etag(body: &str) -> String {
        let mut h = server::events::Fingerprint::new();
        h.add(body.as_bytes());
        format!("\"{}\"", h.hex())
    }

    impl FeedHost {
        /// Listens on `ip` (127.0.0.1 unless a test needs another loopback address).
        pub async fn start_on(ip: IpAddr) -> FeedHost {
            let state = Arc::new(Mutex::new(State::default()));
            let listener = tokio::net::TcpListener::bind(SocketAddr::new(ip, 0)).await.expect("bind the feed host");
            let addr = listener.local_addr().expect("address");
            let shared = state.clone();
            let app = axum::Router::new().fallback(move |uri: Uri, headers: HeaderMap| {
                let state = shared.clone();
                async move { answer(state, uri, headers).await }
            });
            tokio::spawn(async move { axum::serve(listener, app).await });
            FeedHost { addr, state }
        }

        pub async fn start() -> FeedHost {
            Self::start_on(IpAddr::from([127, 0, 0, 1])).await
        }

        pub fn url(&self, path: &str) -> String {
            format!("http://{}{path}", self.addr)
        }

        pub fn set(&self, path: &str, reply: Reply) {
            self.state.lock().expect("feed host state").replies.insert(path.to_owned(), reply);
        }

        pub fn requests(&self) -> usize {
            self.state.lock().expect("feed host state").requests
        }

        pub fn not_modified(&self) -> usize {
            self.state.lock().expect("feed host state").not_modified
        }
    }

    async fn answer(state: Arc<Mutex<State>>, uri: Uri, headers: HeaderMap) -> Response {
        let reply = {
            let mut s = state.lock().expect("feed host state");
            s.requests += 1;
            s.replies.get(uri.path()).cloned()
        };
        match reply {
            None => StatusCode::NOT_FOUND.into_response(),
            Some(Reply::Feed(body)) => {
                let tag = etag(&body);
                if headers.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()) == Some(tag.as_str()) {
                    state.lock().expect("feed host state").not_modified += 1;
                    return (StatusCode::NOT_MODIFIED, [(header::ETAG, tag)]).into_response();
                }
                ([(header::CONTENT_TYPE, "text/calendar; charset=utf-8".to_owned()), (header::ETAG, tag)], body).into_response()
            }
            Some(Reply::Plain(body)) => ([(header::CONTENT_TYPE, "text/calendar; charset=utf-8")], body).into_response(),
            Some(Reply::Status(code)) => StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR).into_response(),
            Some(Reply::Throttled(seconds)) => (StatusCode::TOO_MANY_REQUESTS, [(header::RETRY_AFTER, seconds.to_string())]).into_response(),
            Some(Reply::Redirect(to)) => (StatusCode::FOUND, [(header::LOCATION, to)]).into_response(),
            Some(Reply::Html(body)) => ([(header::CONTENT_TYPE, "text/html")], body).into_response(),
            Some(Reply::Stall(d)) => {
                tokio::time::sleep(d).await;
                StatusCode::OK.into_response()
            }
            Some(Reply::Chunked(body)) => {
                let pieces: Vec<Result<Vec<u8>, std::io::Error>> = body.into_bytes().chunks(64).map(|c| Ok(c.to_vec())).collect();
                ([(header::CONTENT_TYPE, "text/calendar")], Body::from_stream(futures_util::stream::iter(pieces))).into_response()
            }
            Some(Reply::Endless(total)) => {
                let chunk = "X-FILLER:".to_owned() + &"x".repeat(1014) + "\r\n";
                let chunks = total / chunk.len() + 1;
                let stream = futures_util::stream::iter((0..chunks).map(move |_| Ok::<_, std::io::Error>(chunk.clone())));
                ([(header::CONTENT_TYPE, "text/calendar")], Body::from_stream(stream)).into_response()
            }
        }
    }

    /// A feed server that ends every answer by closing the connection: no Content-Length, no
    /// chunked transfer (HTTP/1.0 style), so the client cannot tell a cut-off body from a
    /// whole one. Serves `body` to every request until the test ends.
    pub async fn close_delimited(body: String) -> SocketAddr {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await.expect("bind");
        let addr = listener.local_addr().expect("address");
        let body = Arc::new(body);
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let body = body.clone();
                tokio::spawn(async move {
                    // Read the request head, then answer and close.
                    let mut head = Vec::new();
                    let mut buf = [0u8; 1024];
                    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                        match socket.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => head.extend_from_slice(&buf[..n]),
                        }
                    }
                    let answer = format!("HTTP/1.1 200 OK\r\nContent-Type: text/calendar\r\nConnection: close\r\n\r\n{body}");
                    let _ = socket.write_all(answer.as_bytes()).await;
                    let _ = socket.shutdown().await;
                });
            }
        });
        addr
    }
}
