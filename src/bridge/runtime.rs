//! The per-worker runtime thread.

use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Instant;

use tokio::sync::mpsc;

use super::fetch::{self, ClientSettings};
use super::notify::Writer;
use super::{Outcome, Work};
use crate::metrics;

fn micros(since: Instant) -> u64 {
    u64::try_from(since.elapsed().as_micros()).unwrap_or(u64::MAX)
}

type Done = Arc<Mutex<Vec<(u64, Outcome)>>>;

pub struct Handle {
    jobs: mpsc::UnboundedSender<(u64, Work)>,
    done: Done,
}

impl Handle {
    pub fn send(&self, id: u64, work: Work) -> bool {
        self.jobs.send((id, work)).is_ok()
    }

    pub fn drain(&self) -> Vec<(u64, Outcome)> {
        std::mem::take(&mut *self.done.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

/// What the runtime thread needs to open a provider's Redis store.
pub struct StoreSettings {
    url: Option<oidc_redis::RedisUrl>,
    timeout: std::time::Duration,
    trusted_pem: Option<Vec<u8>>,
}

impl StoreSettings {
    pub fn from_provider(p: &crate::conf::Provider) -> Self {
        let url = match &p.session_store {
            crate::conf::session_store::SessionStore::Redis(u) => Some(u.clone()),
            _ => None,
        };
        StoreSettings {
            url,
            timeout: std::time::Duration::from_millis(p.timeout_ms),
            trusted_pem: p.ssl_trusted_certificate.clone(),
        }
    }
}

type Healths = Vec<Option<Arc<oidc_redis::Health>>>;

pub fn spawn(settings: Vec<ClientSettings>, stores: Vec<StoreSettings>, wake: Writer) -> Result<(Handle, Healths), String> {
    let (jobs, mut rx) = mpsc::unbounded_channel::<(u64, Work)>();
    let done: Done = Arc::default();
    let done_thread = done.clone();
    // The stores are created on the runtime thread (they spawn their connection tasks
    // there); their health handles come back before the worker goes on.
    let (health_tx, health_rx) = std::sync::mpsc::channel::<Result<Healths, String>>();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("tokio runtime: {e}"))?;
    thread::Builder::new()
        .name("auth_oidc".into())
        .spawn(move || {
            rt.block_on(async move {
                let clients = Arc::new(fetch::Clients::new(settings));
                let redis = match open_stores(stores, &done_thread, &wake) {
                    Ok(r) => {
                        let healths = r.iter().map(|s| s.as_ref().map(|s| s.health())).collect();
                        let _ = health_tx.send(Ok(healths));
                        Arc::new(r)
                    }
                    Err(e) => {
                        let _ = health_tx.send(Err(e));
                        return;
                    }
                };
                while let Some((id, work)) = rx.recv().await {
                    let clients = clients.clone();
                    let redis = redis.clone();
                    let done = done_thread.clone();
                    let wake = wake.clone();
                    tokio::spawn(async move {
                        let outcome = match work {
                            Work::Fetch { provider, url, endpoint } => {
                                let started = Instant::now();
                                let got = clients.get(provider, &url).await;
                                metrics::op_request(provider, endpoint, micros(started), got.as_ref().map(|_| 200).map_err(String::as_str));
                                Outcome::Fetched(got)
                            }
                            Work::Call { provider, call } => {
                                let (started, endpoint) = (Instant::now(), call.endpoint);
                                let answer = clients.call(provider, call).await;
                                metrics::op_request(provider, endpoint, micros(started), answer.as_ref().map(|a| a.status).map_err(String::as_str));
                                Outcome::Answered(answer)
                            }
                            Work::Store { provider, op } => {
                                let what = metrics::redis_op(&op);
                                let res = match redis.get(provider) {
                                    Some(Some(store)) => store.run(op).await,
                                    _ => Err("the provider has no Redis session store".into()),
                                };
                                metrics::store_call(provider, metrics::StoreKind::Redis, what, res.is_ok());
                                Outcome::Stored(res)
                            }
                            Work::Sleep { ms } => {
                                tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
                                Outcome::Slept
                            }
                        };
                        done.lock().unwrap_or_else(|e| e.into_inner()).push((id, outcome));
                        wake.wake();
                    });
                }
            });
        })
        .map_err(|e| format!("cannot start the runtime thread: {e}"))?;
    let healths = health_rx.recv().map_err(|_| "the runtime thread ended at start".to_string())??;
    Ok((Handle { jobs, done }, healths))
}

/// Opens each provider's Redis store (connecting in the background). Invalidations are
/// queued for the nginx thread like job results, under job id 0.
fn open_stores(stores: Vec<StoreSettings>, done: &Done, wake: &Writer) -> Result<Vec<Option<oidc_redis::RedisStore>>, String> {
    let mut out = Vec::with_capacity(stores.len());
    for (provider, s) in stores.into_iter().enumerate() {
        let Some(url) = s.url else {
            out.push(None);
            continue;
        };
        let done = done.clone();
        let wake = wake.clone();
        let on_invalidate = Box::new(move |keys: Option<Vec<String>>| {
            done.lock().unwrap_or_else(|e| e.into_inner()).push((0, Outcome::Invalidated { provider, keys }));
            wake.wake();
        });
        let settings = oidc_redis::StoreSettings {
            timeout: s.timeout,
            trusted_pem: s.trusted_pem,
            tracking_prefix: crate::store_keys::SESSION_PREFIX.into(),
        };
        out.push(Some(oidc_redis::RedisStore::connect(&url, settings, on_invalidate)?));
    }
    Ok(out)
}
