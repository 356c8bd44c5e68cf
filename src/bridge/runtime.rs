//! The per-worker runtime thread.

use std::sync::{Arc, Mutex};
use std::thread;

use tokio::sync::mpsc;

use super::fetch::{self, ClientSettings};
use super::notify::Writer;
use super::{Outcome, Work};

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

pub fn spawn(settings: Vec<ClientSettings>, wake: Writer) -> Result<Handle, String> {
    let (jobs, mut rx) = mpsc::unbounded_channel::<(u64, Work)>();
    let done: Done = Arc::default();
    let done_thread = done.clone();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("tokio runtime: {e}"))?;
    thread::Builder::new()
        .name("auth_oidc".into())
        .spawn(move || {
            rt.block_on(async move {
                let clients = Arc::new(fetch::Clients::new(settings));
                while let Some((id, work)) = rx.recv().await {
                    let clients = clients.clone();
                    let done = done_thread.clone();
                    let wake = wake.clone();
                    tokio::spawn(async move {
                        let outcome = match work {
                            Work::Fetch { provider, url } => {
                                Outcome::Fetched(clients.get(provider, &url).await)
                            }
                            Work::Call { provider, call } => Outcome::Answered(clients.call(provider, call).await),
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
    Ok(Handle { jobs, done })
}
