//! Client tracking: `CLIENT TRACKING ON BCAST PREFIX <p> NOLOOP` on every connection that
//! holds keys (the one server; in a cluster every master), turned on again after every
//! reconnection, and a probe that notices what no invalidation reports.
//!
//! Why not fred's `start_tracking`: in a cluster with BCAST it sends the command to one
//! node only, and a node reports changes of its own keys only. And fred drops the
//! "everything changed" message of FLUSHDB/FLUSHALL (a RESP3 push whose key list is
//! null), so a flush is noticed by the probe: a key of ours (outside the tracking
//! prefix) that vanished.

use std::sync::Arc;
use std::time::Duration;

use fred::interfaces::{ClientInterface, ClientLike, ClusterInterface, EventInterface, KeysInterface, TrackingInterface};
use fred::prelude::{Client, Error as FredError, Expiration, Server};
use fred::types::client::Invalidation;
use fred::types::ClusterStateChange;
use fred::util::redis_keyslot;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::broadcast::Receiver;
use tokio::time::{sleep_until, timeout, Instant};

use crate::health::Health;

/// How often the probe runs: a flush, or a connection that died without a sign, is
/// noticed within this (plus the timeout).
pub(crate) const PROBE_EVERY: Duration = Duration::from_secs(1);
/// The probe key outlives a worker that went away by this much, no more.
const PROBE_TTL_MS: i64 = 10 * 60 * 1000;
/// Retry delays of a failed arming (the connection is down or a node does not answer).
const ARM_RETRY_MIN: Duration = Duration::from_millis(50);
const ARM_RETRY_MAX: Duration = Duration::from_secs(1);

pub(crate) type OnInvalidate = Box<dyn Fn(Option<Vec<String>>) + Send + Sync>;

/// The event streams, subscribed before the client connects so that the first
/// connection's events are not missed.
pub(crate) struct Events {
    invalidations: Receiver<Invalidation>,
    errors: Receiver<(FredError, Option<Server>)>,
    reconnects: Receiver<Server>,
    cluster_changes: Receiver<Vec<ClusterStateChange>>,
}

impl Events {
    pub(crate) fn subscribe(client: &Client) -> Events {
        Events {
            invalidations: client.invalidation_rx(),
            errors: client.error_rx(),
            reconnects: client.reconnect_rx(),
            cluster_changes: client.cluster_change_rx(),
        }
    }
}

/// A connection tracking is turned on for, and the probe key that lives on its server.
struct Target {
    /// The cluster master; None: the client's only connection.
    node: Option<Server>,
    probe_key: String,
}

pub(crate) struct Tracker {
    pub(crate) client: Client,
    pub(crate) prefix: String,
    pub(crate) health: Arc<Health>,
    pub(crate) on_invalidate: OnInvalidate,
    pub(crate) timeout: Duration,
    /// Makes this store's probe keys its own: another worker recreating its probe key
    /// after a flush must not hide the flush from this one.
    pub(crate) probe_id: String,
}

enum Step {
    Go,
    Stop,
}

impl Tracker {
    pub(crate) async fn run(self, mut ev: Events) {
        let mut targets: Vec<Target> = Vec::new();
        let mut armed = false;
        let mut next_arm = Instant::now();
        let mut retry = ARM_RETRY_MIN;
        let mut probe = tokio::time::interval(PROBE_EVERY);
        probe.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            // Invalidations first: a burst must not wait behind a probe.
            let step = tokio::select! {
                biased;
                m = ev.invalidations.recv() => self.invalidation(m),
                e = ev.errors.recv() => {
                    if let Ok((err, _)) = &e {
                        self.health.connection_error(err.to_string());
                    }
                    self.lost(e.map(|_| ()), &mut armed, &mut next_arm)
                }
                r = ev.reconnects.recv() => self.lost(r.map(|_| ()), &mut armed, &mut next_arm),
                c = ev.cluster_changes.recv() => self.lost(c.map(|_| ()), &mut armed, &mut next_arm),
                _ = sleep_until(next_arm), if !armed => {
                    match self.arm().await {
                        Ok(t) => {
                            targets = t;
                            armed = true;
                            retry = ARM_RETRY_MIN;
                            self.health.restored();
                            // Whatever changed while tracking was off was not reported.
                            (self.on_invalidate)(None);
                        }
                        Err(_) => {
                            next_arm = Instant::now() + retry;
                            retry = (retry * 2).min(ARM_RETRY_MAX);
                        }
                    }
                    Step::Go
                }
                _ = probe.tick(), if armed => {
                    match self.probe(&targets).await {
                        Ok(false) => {}
                        Ok(true) => {
                            self.health.lost();
                            self.health.restored();
                            (self.on_invalidate)(None);
                        }
                        Err(_) => {
                            // No answer: invalidations may be stuck or lost. Not live
                            // until tracking is confirmed again.
                            self.health.lost();
                            armed = false;
                            next_arm = Instant::now();
                        }
                    }
                    Step::Go
                }
            };
            if let Step::Stop = step {
                return;
            }
        }
    }

    fn invalidation(&self, m: Result<Invalidation, RecvError>) -> Step {
        match m {
            Ok(inv) => {
                let keys: Vec<String> =
                    inv.keys.iter().map(|k| String::from_utf8_lossy(k.as_bytes()).into_owned()).collect();
                if !keys.is_empty() {
                    (self.on_invalidate)(Some(keys));
                }
                Step::Go
            }
            Err(RecvError::Lagged(_)) => {
                (self.on_invalidate)(None);
                Step::Go
            }
            Err(RecvError::Closed) => Step::Stop,
        }
    }

    /// A connection closed, reconnected, or the cluster's layout changed: tracking must
    /// be confirmed again on every master.
    fn lost(&self, r: Result<(), RecvError>, armed: &mut bool, next_arm: &mut Instant) -> Step {
        if let Err(RecvError::Closed) = r {
            return Step::Stop;
        }
        self.health.lost();
        if *armed {
            *armed = false;
            *next_arm = Instant::now();
        }
        Step::Go
    }

    /// Tracking on every target, and the probe keys (re)written. Turning tracking on
    /// where it already is fails with "overlaps with an existing prefix": that is the
    /// confirmation that it is on.
    async fn arm(&self) -> Result<Vec<Target>, String> {
        let targets = self.targets()?;
        for t in &targets {
            let c = match &t.node {
                Some(server) => self.client.with_cluster_node(server.clone()),
                None => self.client.with_options(&Default::default()),
            };
            let prefixes: Vec<String> =
                if self.prefix.is_empty() { vec![] } else { vec![self.prefix.clone()] };
            let on = c.client_tracking::<fred::types::Value, _, _>("ON", None, prefixes, true, false, false, true);
            match timeout(self.timeout, on).await {
                Ok(Ok(_)) => {}
                Ok(Err(e)) if e.details().contains("overlaps") => {}
                Ok(Err(e)) => return Err(e.to_string()),
                Err(_) => return Err("timeout".into()),
            }
            let set = self.client.set::<(), _, _>(
                t.probe_key.as_str(),
                "1",
                Some(Expiration::PX(PROBE_TTL_MS)),
                None,
                false,
            );
            match timeout(self.timeout, set).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => return Err(e.to_string()),
                Err(_) => return Err("timeout".into()),
            }
        }
        Ok(targets)
    }

    /// Extends every probe key; true when one was gone (a flush, or an eviction: both
    /// mean "anything may have changed"), after writing it again.
    async fn probe(&self, targets: &[Target]) -> Result<bool, String> {
        let mut flushed = false;
        for t in targets {
            let extend = self.client.pexpire::<i64, _>(t.probe_key.as_str(), PROBE_TTL_MS, None);
            let n = match timeout(self.timeout, extend).await {
                Ok(Ok(n)) => n,
                Ok(Err(e)) => return Err(e.to_string()),
                Err(_) => return Err("timeout".into()),
            };
            if n == 0 {
                flushed = true;
                let set = self.client.set::<(), _, _>(
                    t.probe_key.as_str(),
                    "1",
                    Some(Expiration::PX(PROBE_TTL_MS)),
                    None,
                    false,
                );
                match timeout(self.timeout, set).await {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => return Err(e.to_string()),
                    Err(_) => return Err("timeout".into()),
                }
            }
        }
        Ok(flushed)
    }

    fn targets(&self) -> Result<Vec<Target>, String> {
        let base = format!("oidc-redis:probe:{}", self.probe_id);
        if !self.client.is_clustered() {
            return Ok(vec![Target { node: None, probe_key: base }]);
        }
        let state = self.client.cached_cluster_state().ok_or("cluster layout not known yet")?;
        let mut out: Vec<Target> = Vec::new();
        for range in state.slots() {
            if out.iter().any(|t| t.node.as_ref() == Some(&range.primary)) {
                continue;
            }
            out.push(Target {
                node: Some(range.primary.clone()),
                probe_key: format!("{base}:{{{}}}", tag_for_slot(range.start)),
            });
        }
        if out.is_empty() {
            return Err("cluster has no master".into());
        }
        Ok(out)
    }
}

/// A hash tag whose key slot is `slot`, so that the probe key of a master lives on it.
/// CRC16 spreads consecutive numbers evenly: about 16384 tries at most, once per arming.
pub(crate) fn tag_for_slot(slot: u16) -> String {
    let mut n: u64 = 0;
    loop {
        let tag = format!("p{n}");
        if redis_keyslot(tag.as_bytes()) == slot {
            return tag;
        }
        n += 1;
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn tag_for_slot_hits_the_slot() {
        for slot in [0u16, 1, 5460, 5461, 10922, 16383] {
            let tag = super::tag_for_slot(slot);
            let key = format!("oidc-redis:probe:x:{{{tag}}}");
            assert_eq!(fred::util::redis_keyslot(key.as_bytes()), slot);
        }
    }
}
