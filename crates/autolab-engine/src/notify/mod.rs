//! Notifications (`[notify]`): a campaign's news — a new best, a crash streak, a pause with its
//! diagnosis, a budget reached, the end — sent to a webhook (JSON with a Slack-compatible
//! `text`), a command (the event as JSON on its standard input) and an ntfy topic. Each
//! destination has its own thread and queue, with retries and backoff, so a slow or failing
//! receiver holds neither the loop nor the other destinations; what could not be delivered
//! comes back to the loop to be recorded.

mod command;

use std::collections::VecDeque;
use std::sync::mpsc;
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use autolab_core::config::Notify;
use serde_json::{Value, json};

pub use command::run_command;

/// One piece of news.
#[derive(Debug, Clone)]
pub struct Event {
    /// One of [`autolab_core::config::NOTIFY_EVENTS`].
    pub kind: String,
    pub tag: String,
    /// One line a person reads.
    pub text: String,
    /// What the event is about, for programs.
    pub data: Value,
}

/// Slack's escaping of `&`, `<` and `>`: an LLM-written title cannot mention `<!channel>` or
/// disguise a link.
fn slack_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

impl Event {
    /// The JSON every destination gets (ntfy gets `text`).
    pub fn json(&self) -> Value {
        json!({
            "event": self.kind,
            "campaign": self.tag,
            "text": slack_escape(&format!("autolab [{}] {}", self.tag, self.text)),
            "data": self.data,
            "at": autolab_core::ledger::now(),
        })
    }
}

/// A delivery that failed after its retries.
#[derive(Debug, Clone, PartialEq)]
pub struct Undelivered {
    pub kind: String,
    /// The destination as recorded: a URL's scheme and host only (a webhook's path is its
    /// secret), or the command.
    pub destination: String,
    pub why: String,
}

/// Where news goes, and how it is sent there.
#[derive(Debug, Clone)]
enum Destination {
    Webhook(String),
    Ntfy(String),
    Command(String),
}

impl Destination {
    /// How the destination is named in records and messages.
    fn name(&self) -> String {
        match self {
            Destination::Webhook(u) => format!("webhook {}", origin(u)),
            Destination::Ntfy(u) => format!("ntfy {}", origin(u)),
            Destination::Command(c) => format!("command `{c}`"),
        }
    }

    fn send(
        &self,
        event: &Event,
        env: &[(String, String)],
        timeout: Duration,
    ) -> Result<(), String> {
        let body = event.json();
        match self {
            Destination::Webhook(url) => {
                post(url, "application/json", &body.to_string(), None, timeout)
            }
            Destination::Ntfy(url) => {
                let text = format!("autolab [{}] {}", event.tag, event.text);
                let title = format!("autolab: {}", event.kind.replace('_', " "));
                post(url, "text/plain", &text, Some(&title), timeout)
            }
            Destination::Command(c) => run_command(c, &body.to_string(), env, timeout),
        }
    }
}

/// `https://host:port` of a URL, without its path, query or credentials.
fn origin(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
    format!("{scheme}://{host}")
}

/// One destination's worker: its queue and the kinds of the events not yet through.
struct Worker {
    destination: Destination,
    tx: Option<mpsc::Sender<Event>>,
    pending: Arc<Mutex<VecDeque<String>>>,
    thread: Option<JoinHandle<()>>,
}

/// The sending side, held by the loop.
pub struct Notifier {
    cfg: Notify,
    tag: String,
    workers: Vec<Worker>,
    failures: mpsc::Receiver<Undelivered>,
}

impl Notifier {
    /// Starts one delivery thread per destination; a command runs with `env` only.
    pub fn start(cfg: &Notify, tag: &str, env: Vec<(String, String)>) -> Notifier {
        let (ftx, failures) = mpsc::channel();
        let workers = destinations(cfg)
            .into_iter()
            .map(|destination| {
                let (tx, rx) = mpsc::channel::<Event>();
                let pending = Arc::new(Mutex::new(VecDeque::new()));
                let (d, p, f, c, e) = (
                    destination.clone(),
                    Arc::clone(&pending),
                    ftx.clone(),
                    cfg.clone(),
                    env.clone(),
                );
                let thread = std::thread::Builder::new()
                    .name("autolab-notify".into())
                    .spawn(move || {
                        for event in rx {
                            let failed = deliver_to(&d, &c, &e, &event);
                            // Reported and taken off the pending list together.
                            let mut pending = p.lock().unwrap_or_else(PoisonError::into_inner);
                            if let Some(failed) = failed {
                                let _ = f.send(failed);
                            }
                            pending.pop_front();
                        }
                    })
                    .ok();
                Worker {
                    destination,
                    tx: Some(tx),
                    pending,
                    thread,
                }
            })
            .collect();
        Notifier {
            cfg: cfg.clone(),
            tag: tag.to_string(),
            workers,
            failures,
        }
    }

    /// Queues an event for every destination if `[notify] events` wants it; never waits.
    pub fn send(&self, kind: &str, text: impl Into<String>, data: Value) {
        if !self.cfg.wants(kind) {
            return;
        }
        let event = Event {
            kind: kind.into(),
            tag: self.tag.clone(),
            text: text.into(),
            data,
        };
        for w in &self.workers {
            if let Some(tx) = &w.tx {
                w.pending
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push_back(kind.to_string());
                let _ = tx.send(event.clone());
            }
        }
    }

    /// Deliveries that failed since the last call.
    pub fn failures(&self) -> Vec<Undelivered> {
        self.failures.try_iter().collect()
    }

    /// Closes the queues and waits for what is queued to go, for at most one try's timeout;
    /// returns the failures not taken yet, the events given up on among them.
    pub fn finish(&mut self) -> Vec<Undelivered> {
        let until = Instant::now() + Duration::from_secs(u64::from(self.cfg.timeout_secs));
        for w in &mut self.workers {
            w.tx = None;
        }
        let mut abandoned = Vec::new();
        for w in &mut self.workers {
            let Some(t) = w.thread.take() else { continue };
            while !t.is_finished() && Instant::now() < until {
                std::thread::sleep(Duration::from_millis(20));
            }
            if t.is_finished() {
                let _ = t.join();
            } else {
                // Left to end with the process: a receiver that never answers does not hold
                // the campaign's end.
                let kinds = w
                    .pending
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .clone();
                for kind in kinds {
                    abandoned.push(Undelivered {
                        kind,
                        destination: w.destination.name(),
                        why: format!(
                            "given up at the end: the destination was still busy after {} s",
                            self.cfg.timeout_secs
                        ),
                    });
                }
            }
        }
        let mut out = self.failures();
        out.extend(abandoned);
        out
    }
}

/// The wait before try `n` (0 is the first): none, then 0.5 s, 1 s, 2 s, … capped at 30 s.
pub fn backoff(n: u32) -> Duration {
    if n == 0 {
        return Duration::ZERO;
    }
    Duration::from_millis(500u64 << (n - 1).min(6)).min(Duration::from_secs(30))
}

/// Sends one event to one destination, with its retries; what failed, if it did.
fn deliver_to(
    d: &Destination,
    cfg: &Notify,
    env: &[(String, String)],
    event: &Event,
) -> Option<Undelivered> {
    let timeout = Duration::from_secs(u64::from(cfg.timeout_secs));
    let mut why = String::new();
    for n in 0..=cfg.retries {
        std::thread::sleep(backoff(n));
        match d.send(event, env, timeout) {
            Ok(()) => return None,
            Err(e) => why = e,
        }
    }
    Some(Undelivered {
        kind: event.kind.clone(),
        destination: d.name(),
        why,
    })
}

/// Sends one event to every destination of `cfg`, one after the other, each with its
/// retries; returns what failed.
pub fn deliver(cfg: &Notify, env: &[(String, String)], event: &Event) -> Vec<Undelivered> {
    destinations(cfg)
        .iter()
        .filter_map(|d| deliver_to(d, cfg, env, event))
        .collect()
}

/// The destinations `[notify]` names, in the order they are tried.
fn destinations(cfg: &Notify) -> Vec<Destination> {
    [
        cfg.webhook.clone().map(Destination::Webhook),
        cfg.ntfy.clone().map(Destination::Ntfy),
        cfg.command.clone().map(Destination::Command),
    ]
    .into_iter()
    .flatten()
    .collect()
}

fn post(
    url: &str,
    content_type: &str,
    body: &str,
    title: Option<&str>,
    timeout: Duration,
) -> Result<(), String> {
    let agent = autolab_llm::http_agent(url, timeout);
    let mut req = agent.post(url).header("content-type", content_type);
    if let Some(t) = title {
        req = req.header("title", t);
    }
    // ureq's errors may quote the URL, whose path is a webhook's secret.
    let reply = req
        .send(body.to_string())
        .map_err(|e| e.to_string().replace(url, &origin(url)))?;
    let status = reply.status().as_u16();
    if (200..300).contains(&status) {
        Ok(())
    } else {
        Err(format!("HTTP {status}"))
    }
}

#[cfg(test)]
mod tests;
