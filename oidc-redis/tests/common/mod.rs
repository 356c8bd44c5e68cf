//! Real `redis-server` processes for the integration tests: started on free 127.0.0.1
//! ports with a password, in a temporary directory, killed by PID when dropped (also
//! while a failing test unwinds). Readiness and state changes are polled, never slept.
#![allow(dead_code)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use oidc_redis::{RedisStore, RedisUrl, StoreAnswer, StoreOp, StoreSettings};

pub const PW: &str = "t3st-pw";
pub const PREFIX: &str = "oidc:";

/// A directory removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let base = std::env::temp_dir();
        for n in 0u32.. {
            let p = base.join(format!("oidc-redis-{tag}-{}-{n}", std::process::id()));
            if std::fs::create_dir(&p).is_ok() {
                return TempDir(p);
            }
        }
        unreachable!()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A port free now on 127.0.0.1 (and, for cluster nodes, its bus port +10000 too).
pub fn free_port(with_bus: bool) -> u16 {
    loop {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        if port > 55000 {
            continue;
        }
        if !with_bus || TcpListener::bind(("127.0.0.1", port + 10000)).is_ok() {
            return port;
        }
    }
}

/// Polls `f` every 10 ms until it gives Some, or panics naming `what`.
pub fn wait_for<T>(what: &str, limit: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        if start.elapsed() > limit {
            panic!("timed out after {limit:?} waiting for {what}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The async twin of `wait_for`, for conditions that need the store's runtime to run.
pub async fn wait_async<T, F, Fut>(what: &str, limit: Duration, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(v) = f().await {
            return v;
        }
        if start.elapsed() > limit {
            panic!("timed out after {limit:?} waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// `redis-cli` against 127.0.0.1:port with the password; the reply as text.
pub fn cli(port: u16, args: &[&str]) -> String {
    cli_opts(port, &[], args)
}

pub fn cli_opts(port: u16, opts: &[&str], args: &[&str]) -> String {
    cli_auth(port, true, opts, args)
}

fn cli_auth(port: u16, auth: bool, opts: &[&str], args: &[&str]) -> String {
    let mut cmd = Command::new("redis-cli");
    cmd.args(["-h", "127.0.0.1", "-p", &port.to_string()]);
    if auth {
        cmd.args(["-a", PW, "--no-auth-warning"]);
    }
    let out = cmd
        .args(opts)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("redis-cli runs");
    String::from_utf8_lossy(&out.stdout).trim().to_string() + &String::from_utf8_lossy(&out.stderr).trim().to_string()
}

/// One `redis-server` (or sentinel) process.
pub struct Server {
    pub port: u16,
    pub conf: PathBuf,
    child: Option<Child>,
    sentinel: bool,
    /// redis-cli options of the readiness check (e.g. TLS).
    ping_opts: Vec<String>,
    /// Whether the server has the password (a sentinel may have none).
    auth: bool,
}

impl Server {
    /// Writes `<dir>/<port>.conf` (the common part and `extra`) and starts the server.
    pub fn start(dir: &Path, port: u16, extra: &str) -> Server {
        Self::start_kind(dir, port, extra, false)
    }

    pub fn start_sentinel(dir: &Path, port: u16, extra: &str) -> Server {
        Self::start_kind(dir, port, extra, true)
    }

    /// With `redis-cli` options for the readiness check (TLS: --tls --cacert ...).
    pub fn start_with(dir: &Path, port: u16, extra: &str, ping_opts: &[&str]) -> Server {
        Self::start_full(dir, port, extra, false, ping_opts)
    }

    fn start_kind(dir: &Path, port: u16, extra: &str, sentinel: bool) -> Server {
        Self::start_full(dir, port, extra, sentinel, &[])
    }

    fn start_full(dir: &Path, port: u16, extra: &str, sentinel: bool, ping_opts: &[&str]) -> Server {
        let conf = dir.join(format!("{port}.conf"));
        let auth = !extra.contains("# no password");
        let mut text = format!(
            "bind 127.0.0.1\nport {port}\ndir {dir}\nlogfile {dir}/{port}.log\ndaemonize no\nprotected-mode no\n",
            dir = dir.display()
        );
        if auth {
            text.push_str(&format!("requirepass {PW}\n"));
        }
        if !sentinel {
            text.push_str(&format!(
                "masterauth {PW}\nsave \"\"\nappendonly no\ndbfilename dump-{port}.rdb\n"
            ));
        }
        text.push_str(extra);
        std::fs::write(&conf, text).unwrap();
        let ping_opts = ping_opts.iter().map(|s| s.to_string()).collect();
        let mut s = Server { port, conf, child: None, sentinel, ping_opts, auth };
        s.restart();
        s
    }

    /// Starts the process again with the same configuration; waits for PONG.
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "server {} still running", self.port);
        let mut cmd = Command::new("redis-server");
        cmd.arg(&self.conf);
        if self.sentinel {
            cmd.arg("--sentinel");
        }
        let child = cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("redis-server starts");
        self.child = Some(child);
        self.wait_ready();
    }

    pub fn wait_ready(&mut self) {
        let port = self.port;
        let opts: Vec<&str> = self.ping_opts.iter().map(|s| s.as_str()).collect();
        let auth = self.auth;
        let log = self.conf.with_extension("log");
        wait_for(&format!("redis {port} to answer PING"), Duration::from_secs(10), || {
            if let Some(c) = self.child.as_mut() {
                if let Ok(Some(status)) = c.try_wait() {
                    let l = std::fs::read_to_string(&log).unwrap_or_default();
                    panic!("redis-server {port} exited ({status}):\n{l}");
                }
            }
            (cli_auth(port, auth, &opts, &["PING"]) == "PONG").then_some(())
        });
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// SIGKILL, and reaps the process.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn signal(&self, sig: &str) {
        let ok = Command::new("kill").args([&format!("-{sig}"), &self.pid().to_string()]).status().unwrap();
        assert!(ok.success());
    }
    pub fn pause(&self) {
        self.signal("STOP");
    }
    pub fn resume(&self) {
        self.signal("CONT");
    }

    pub fn cli(&self, args: &[&str]) -> String {
        cli_auth(self.port, self.auth, &[], args)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(c) = self.child.as_ref() {
            // A stopped process dies on SIGKILL too; CONT first keeps the log complete.
            let _ = Command::new("kill").args(["-CONT", &c.id().to_string()]).status();
        }
        self.kill();
    }
}

/// Master, replica and one sentinel watching them as `mymaster`.
pub struct SentinelSet {
    pub dir: TempDir,
    pub master: Server,
    pub replica: Server,
    pub sentinel: Server,
}

impl SentinelSet {
    /// `sentinel_password`: whether the sentinel has the masters' password too.
    pub fn start(sentinel_password: bool) -> SentinelSet {
        let dir = TempDir::new("sentinel");
        let (mp, rp, sp) = (free_port(false), free_port(false), free_port(false));
        // Diskless sync without the default 5 s wait for more replicas.
        let master = Server::start(&dir.0, mp, "repl-diskless-sync-delay 0\n");
        let replica = Server::start(&dir.0, rp, &format!("replicaof 127.0.0.1 {mp}\n"));
        wait_for("the replica to sync", Duration::from_secs(10), || {
            replica.cli(&["INFO", "replication"]).contains("master_link_status:up").then_some(())
        });
        let sentinel = Server::start_sentinel(
            &dir.0,
            sp,
            &format!(
                "sentinel monitor mymaster 127.0.0.1 {mp} 1\n\
                 sentinel auth-pass mymaster {PW}\n\
                 sentinel down-after-milliseconds mymaster 1000\n\
                 sentinel failover-timeout mymaster 5000\n\
                 sentinel known-replica mymaster 127.0.0.1 {rp}\n{}",
                if sentinel_password { "" } else { "# no password\n" }
            ),
        );
        // A failover needs the sentinel to know the replica.
        wait_for("the sentinel to see the replica", Duration::from_secs(15), || {
            let r = sentinel.cli(&["SENTINEL", "REPLICAS", "mymaster"]);
            (r.contains(&rp.to_string()) && !r.contains("s_down") && !r.contains("disconnected")).then_some(())
        });
        SentinelSet { dir, master, replica, sentinel }
    }

    pub fn url(&self) -> String {
        format!("redis-sentinel://:{PW}@127.0.0.1:{}/mymaster", self.sentinel.port)
    }

    /// The port the sentinel names as master.
    pub fn master_port(&self) -> u16 {
        let r = self.sentinel.cli(&["SENTINEL", "GET-MASTER-ADDR-BY-NAME", "mymaster"]);
        r.lines().nth(1).and_then(|p| p.trim().parse().ok()).unwrap_or(0)
    }
}

/// Three masters made into a cluster by `redis-cli --cluster create`.
pub struct Cluster {
    pub dir: TempDir,
    pub nodes: Vec<Server>,
}

impl Cluster {
    pub fn start() -> Cluster {
        let dir = TempDir::new("cluster");
        let mut nodes = Vec::new();
        let mut ports = Vec::new();
        while ports.len() < 3 {
            let p = free_port(true);
            if !ports.contains(&p) {
                ports.push(p);
            }
        }
        for &p in &ports {
            nodes.push(Server::start(
                &dir.0,
                p,
                &format!("cluster-enabled yes\ncluster-config-file nodes-{p}.conf\ncluster-node-timeout 2000\n"),
            ));
        }
        let addrs: Vec<String> = ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
        let mut args: Vec<&str> = vec!["--cluster", "create"];
        args.extend(addrs.iter().map(|s| s.as_str()));
        args.extend(["--cluster-replicas", "0", "--cluster-yes"]);
        let out = cli(ports[0], &args);
        assert!(out.contains("All 16384 slots covered"), "cluster create failed: {out}");
        for n in &nodes {
            wait_for("cluster_state:ok", Duration::from_secs(15), || {
                n.cli(&["CLUSTER", "INFO"]).contains("cluster_state:ok").then_some(())
            });
        }
        Cluster { dir, nodes }
    }

    pub fn url(&self) -> String {
        let seeds: Vec<String> = self.nodes.iter().map(|n| format!("127.0.0.1:{}", n.port)).collect();
        format!("redis-cluster://:{PW}@{}", seeds.join(","))
    }

    /// The node that serves `key`'s slot.
    pub fn node_of(&self, key: &str) -> &Server {
        let slot: u16 = cli(self.nodes[0].port, &["CLUSTER", "KEYSLOT", key]).parse().unwrap();
        let nodes = cli(self.nodes[0].port, &["CLUSTER", "NODES"]);
        for line in nodes.lines() {
            let f: Vec<&str> = line.split_whitespace().collect();
            let port: u16 = f[1].split(['@', ':']).nth(1).unwrap().parse().unwrap();
            for range in &f[8..] {
                let (a, b) = match range.split_once('-') {
                    Some((a, b)) => (a.parse::<u16>().unwrap(), b.parse::<u16>().unwrap()),
                    None => {
                        let a = range.parse::<u16>().unwrap();
                        (a, a)
                    }
                };
                if (a..=b).contains(&slot) {
                    return self.nodes.iter().find(|n| n.port == port).unwrap();
                }
            }
        }
        panic!("no node serves slot {slot}");
    }
}

/// What `on_invalidate` received, in order.
#[derive(Clone, Default)]
pub struct Seen(pub Arc<Mutex<Vec<Option<Vec<String>>>>>);

impl Seen {
    pub fn callback(&self) -> Box<dyn Fn(Option<Vec<String>>) + Send + Sync> {
        let me = self.clone();
        Box::new(move |keys| me.0.lock().unwrap().push(keys))
    }
    pub fn has_key(&self, key: &str) -> bool {
        self.0.lock().unwrap().iter().any(|e| e.as_ref().is_some_and(|ks| ks.iter().any(|k| k == key)))
    }
    pub fn flushes(&self) -> usize {
        self.0.lock().unwrap().iter().filter(|e| e.is_none()).count()
    }
    pub fn clear(&self) {
        self.0.lock().unwrap().clear();
    }
}

pub fn settings(timeout_ms: u64) -> StoreSettings {
    StoreSettings { timeout: Duration::from_millis(timeout_ms), trusted_pem: None, tracking_prefix: PREFIX.into() }
}

pub fn store(url: &str, s: StoreSettings, seen: &Seen) -> RedisStore {
    RedisStore::connect(&RedisUrl::parse(url).unwrap(), s, seen.callback()).unwrap()
}

/// Waits until tracking is live (connected, tracking confirmed everywhere).
pub async fn live(store: &RedisStore) {
    let h = store.health();
    wait_async("tracking to be live", Duration::from_secs(20), || {
        let ok = h.tracking_live();
        async move { ok.then_some(()) }
    })
    .await
}

pub async fn set(store: &RedisStore, key: &str, value: &[u8]) -> Result<StoreAnswer, String> {
    store.run(StoreOp::Set { key: key.into(), value: value.to_vec(), ttl_ms: 0 }).await
}

pub async fn get(store: &RedisStore, key: &str) -> Result<StoreAnswer, String> {
    store.run(StoreOp::Get { key: key.into() }).await
}

/// Waits until `seen` holds an invalidation of `key`.
pub async fn invalidated(seen: &Seen, key: &str, limit: Duration) {
    let what = format!("an invalidation of {key}");
    wait_async(&what, limit, || {
        let ok = seen.has_key(key);
        async move { ok.then_some(()) }
    })
    .await
}
