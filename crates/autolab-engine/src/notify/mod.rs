//! Notifications (`[notify]`): a campaign's news — a new best, a crash streak, a pause with its
//! diagnosis, a budget reached, the end — sent to a webhook (JSON with a Slack-compatible
//! `text`), a command (the event as JSON on its standard input) and an ntfy topic. Delivery runs
//! on its own thread with retries and backoff, so a slow or failing receiver never holds the
//! loop; what could not be delivered comes back to the loop to be recorded.

use std::io::Write;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use autolab_core::config::Notify;
use serde_json::{Value, json};

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

impl Event {
    /// The JSON every destination gets (ntfy gets `text`).
    pub fn json(&self) -> Value {
        json!({
            "event": self.kind,
            "campaign": self.tag,
            "text": format!("autolab [{}] {}", self.tag, self.text),
            "data": self.data,
            "at": autolab_core::ledger::now(),
        })
    }
}

/// A delivery that failed after its retries.
#[derive(Debug, Clone, PartialEq)]
pub struct Undelivered {
    pub kind: String,
    pub destination: String,
    pub why: String,
}

/// The sending side, held by the loop.
pub struct Notifier {
    cfg: Notify,
    tag: String,
    tx: Option<mpsc::Sender<Event>>,
    failures: mpsc::Receiver<Undelivered>,
    thread: Option<JoinHandle<()>>,
}

impl Notifier {
    /// Starts the delivery thread.
    pub fn start(cfg: &Notify, tag: &str) -> Notifier {
        let (tx, rx) = mpsc::channel::<Event>();
        let (ftx, failures) = mpsc::channel();
        let thread_cfg = cfg.clone();
        let thread = std::thread::Builder::new()
            .name("autolab-notify".into())
            .spawn(move || {
                for event in rx {
                    for failed in deliver(&thread_cfg, &event) {
                        let _ = ftx.send(failed);
                    }
                }
            })
            .ok();
        Notifier {
            cfg: cfg.clone(),
            tag: tag.to_string(),
            tx: Some(tx),
            failures,
            thread,
        }
    }

    /// Queues an event if `[notify] events` wants it; never waits.
    pub fn send(&self, kind: &str, text: impl Into<String>, data: Value) {
        if !self.cfg.wants(kind) {
            return;
        }
        if let Some(tx) = &self.tx {
            let _ = tx.send(Event {
                kind: kind.into(),
                tag: self.tag.clone(),
                text: text.into(),
                data,
            });
        }
    }

    /// Deliveries that failed since the last call.
    pub fn failures(&self) -> Vec<Undelivered> {
        self.failures.try_iter().collect()
    }

    /// Closes the queue and waits for what is queued to go, for at most one try's timeout
    /// beyond the first; returns the failures not taken yet and whether everything went.
    pub fn finish(&mut self) -> (Vec<Undelivered>, bool) {
        self.tx = None;
        let until = Instant::now() + Duration::from_secs(u64::from(self.cfg.timeout_secs));
        let mut done = true;
        if let Some(t) = self.thread.take() {
            while !t.is_finished() && Instant::now() < until {
                std::thread::sleep(Duration::from_millis(20));
            }
            if t.is_finished() {
                let _ = t.join();
            } else {
                // Left to end with the process: a receiver that never answers does not hold
                // the campaign's end.
                done = false;
            }
        }
        (self.failures(), done)
    }
}

/// Sends one event to every destination, each with its retries; returns what failed.
pub fn deliver(cfg: &Notify, event: &Event) -> Vec<Undelivered> {
    let body = event.json();
    let timeout = Duration::from_secs(u64::from(cfg.timeout_secs));
    let mut failed = Vec::new();
    let mut attempt = |destination: String, send: &dyn Fn() -> Result<(), String>| {
        let mut why = String::new();
        for n in 0..=cfg.retries {
            if n > 0 {
                // 0.5 s, 1 s, 2 s, … capped at 30 s.
                let wait = Duration::from_millis(500u64 << (n - 1).min(6));
                std::thread::sleep(wait.min(Duration::from_secs(30)));
            }
            match send() {
                Ok(()) => return,
                Err(e) => why = e,
            }
        }
        failed.push(Undelivered {
            kind: event.kind.clone(),
            destination,
            why,
        });
    };
    if let Some(url) = &cfg.webhook {
        attempt(format!("webhook {url}"), &|| {
            post(url, "application/json", &body.to_string(), None, timeout)
        });
    }
    if let Some(url) = &cfg.ntfy {
        let text = body["text"].as_str().unwrap_or_default().to_string();
        let title = format!("autolab: {}", event.kind.replace('_', " "));
        attempt(format!("ntfy {url}"), &|| {
            post(url, "text/plain", &text, Some(&title), timeout)
        });
    }
    if let Some(command) = &cfg.command {
        attempt(format!("command `{command}`"), &|| {
            run_command(command, &body.to_string(), timeout)
        });
    }
    failed
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
    let reply = req.send(body.to_string()).map_err(|e| e.to_string())?;
    let status = reply.status().as_u16();
    if (200..300).contains(&status) {
        Ok(())
    } else {
        Err(format!("HTTP {status}"))
    }
}

/// Runs `command` by `sh -c` with `input` on its standard input; killed (its whole process
/// group) after `timeout`.
fn run_command(command: &str, input: &str, timeout: Duration) -> Result<(), String> {
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(command)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .map_err(|e| format!("cannot start sh: {e}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        // A command that does not read its input is not an error.
        let _ = stdin.write_all(input.as_bytes());
    }
    let until = Instant::now() + timeout;
    loop {
        match child.try_wait().map_err(|e| e.to_string())? {
            Some(status) if status.success() => return Ok(()),
            Some(status) => {
                let mut err = String::new();
                if let Some(mut e) = child.stderr.take() {
                    use std::io::Read;
                    let _ = e.by_ref().take(2000).read_to_string(&mut err);
                }
                let err = err.trim();
                return Err(match status.code() {
                    Some(c) if err.is_empty() => format!("exit code {c}"),
                    Some(c) => format!("exit code {c}: {err}"),
                    None => "killed by a signal".into(),
                });
            }
            None if Instant::now() >= until => {
                let pgid = nix::unistd::Pid::from_raw(child.id() as i32);
                let _ = nix::sys::signal::killpg(pgid, nix::sys::signal::Signal::SIGKILL);
                let _ = child.wait();
                return Err(format!("did not end within {} s", timeout.as_secs()));
            }
            None => std::thread::sleep(Duration::from_millis(20)),
        }
    }
}

#[cfg(test)]
mod tests;
