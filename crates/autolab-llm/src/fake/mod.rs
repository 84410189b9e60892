//! A recording fake LLM server on 127.0.0.1, for tests and benchmarks of this crate, of other
//! crates and of the whole binary.
//!
//! It speaks just enough HTTP/1.1 for an HTTP client: one request per connection
//! (`Connection: close`), bodies by `Content-Length` or chunked. Every request is recorded;
//! each gets the next reply of a script, in either provider's wire format, as JSON or as
//! server-sent events.
//!
//! Which reply a request gets, in this order:
//! 1. the next unserved reply of the script ([`FakeServer::start`], [`FakeServer::push`]);
//! 2. else the reply of the function given to [`FakeServer::from_fn`];
//! 3. else the fallback set with [`FakeServer::with_fallback`];
//! 4. else the last reply served again (so a one-reply script answers every request);
//! 5. else (nothing was ever scripted) HTTP 500 saying so.
//!
//! ```
//! use autolab_llm::fake::{FakeReply, FakeServer};
//! use autolab_llm::{ChatRequest, Message, Provider, ProviderConfig};
//!
//! let server = FakeServer::start(vec![FakeReply::openai("hello")]);
//! let mut cfg = ProviderConfig::new(Provider::OpenAi, "test-model");
//! cfg.base_url = Some(server.url()); // loopback: no API key needed
//! let reply = autolab_llm::client(&cfg)?.complete(&ChatRequest::new(vec![Message::user("hi")], 16))?;
//! assert_eq!(reply.text, "hello");
//! assert_eq!(server.requests()[0].path, "/chat/completions");
//! # Ok::<(), autolab_llm::LlmError>(())
//! ```
//!
//! The server stops accepting when dropped; a request already being answered is finished.

mod wire;

use std::collections::VecDeque;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

/// One scripted answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FakeReply {
    /// An OpenAI chat completion as one JSON object.
    OpenAi {
        text: String,
        prompt_tokens: u64,
        completion_tokens: u64,
    },
    /// An OpenAI chat completion as SSE: one `data:` chunk per element of `chunks`, a finish
    /// chunk, a usage chunk, then `data: [DONE]`.
    OpenAiSse {
        chunks: Vec<String>,
        prompt_tokens: u64,
        completion_tokens: u64,
    },
    /// An Anthropic message as one JSON object.
    Anthropic {
        text: String,
        input_tokens: u64,
        output_tokens: u64,
    },
    /// An Anthropic message as SSE: `message_start`, one `content_block_delta` per element
    /// of `chunks`, `message_delta` with the output tokens, `message_stop`.
    AnthropicSse {
        chunks: Vec<String>,
        input_tokens: u64,
        output_tokens: u64,
    },
    /// An error status with an optional `Retry-After: <seconds>` header. `body` is sent as
    /// JSON when it looks like JSON, else as plain text.
    Status {
        code: u16,
        retry_after: Option<u64>,
        body: String,
    },
    /// Anything else, byte for byte.
    Raw {
        status: u16,
        content_type: String,
        body: String,
    },
}

impl FakeReply {
    /// An OpenAI JSON reply of `text` that used 10 prompt and 5 completion tokens.
    pub fn openai(text: impl Into<String>) -> Self {
        FakeReply::OpenAi {
            text: text.into(),
            prompt_tokens: 10,
            completion_tokens: 5,
        }
    }
    /// An Anthropic JSON reply of `text` that used 10 input and 5 output tokens.
    pub fn anthropic(text: impl Into<String>) -> Self {
        FakeReply::Anthropic {
            text: text.into(),
            input_tokens: 10,
            output_tokens: 5,
        }
    }
    /// An error status without `Retry-After`.
    pub fn status(code: u16, body: impl Into<String>) -> Self {
        FakeReply::Status {
            code,
            retry_after: None,
            body: body.into(),
        }
    }
}

/// A request as the server received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    pub method: String,
    /// The request target, e.g. `/v1/messages`.
    pub path: String,
    /// In the order received, names as sent.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Recorded {
    /// The first header called `name`, compared case-insensitively.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body parsed as JSON, if it is JSON.
    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_str(&self.body).ok()
    }

    /// The text of every message in a chat request's body, system prompt included, joined
    /// by newlines: handy for [`FakeServer::from_fn`] replies that depend on the prompt.
    pub fn prompt_text(&self) -> String {
        let Some(v) = self.json() else {
            return String::new();
        };
        let mut parts: Vec<&str> = Vec::new();
        if let Some(system) = v.get("system").and_then(|s| s.as_str()) {
            parts.push(system);
        }
        for m in v
            .get("messages")
            .and_then(|m| m.as_array())
            .into_iter()
            .flatten()
        {
            if let Some(content) = m.get("content").and_then(|c| c.as_str()) {
                parts.push(content);
            }
        }
        parts.join("\n")
    }
}

type ReplyFn = Box<dyn Fn(&Recorded) -> FakeReply + Send + Sync>;

#[derive(Default)]
struct Script {
    queue: VecDeque<FakeReply>,
    dynamic: Option<ReplyFn>,
    fallback: Option<FakeReply>,
    last: Option<FakeReply>,
}

impl Script {
    fn next(&mut self, request: &Recorded) -> FakeReply {
        let reply = if let Some(r) = self.queue.pop_front() {
            r
        } else if let Some(f) = &self.dynamic {
            f(request)
        } else if let Some(r) = &self.fallback {
            r.clone()
        } else if let Some(r) = &self.last {
            r.clone()
        } else {
            return FakeReply::status(500, "fake LLM server: no reply scripted");
        };
        self.last = Some(reply.clone());
        reply
    }
}

#[derive(Default)]
struct Shared {
    script: Mutex<Script>,
    requests: Mutex<Vec<Recorded>>,
    delay: Mutex<Duration>,
    stopping: AtomicBool,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The fake server. See the [module docs](self).
pub struct FakeServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    acceptor: Option<JoinHandle<()>>,
}

impl FakeServer {
    /// Starts serving `replies` in order on a free port of 127.0.0.1.
    ///
    /// # Panics
    /// When no loopback port can be bound: a test cannot go on without one.
    pub fn start(replies: Vec<FakeReply>) -> FakeServer {
        let shared = Shared::default();
        lock(&shared.script).queue.extend(replies);
        FakeServer::serve(shared)
    }

    /// Starts a server that answers each request with `f(request)` (after any replies
    /// [`push`](Self::push)ed later, which are served first).
    pub fn from_fn(f: impl Fn(&Recorded) -> FakeReply + Send + Sync + 'static) -> FakeServer {
        let shared = Shared::default();
        lock(&shared.script).dynamic = Some(Box::new(f));
        FakeServer::serve(shared)
    }

    fn serve(shared: Shared) -> FakeServer {
        let listener = match TcpListener::bind("127.0.0.1:0") {
            Ok(l) => l,
            Err(e) => panic!("fake LLM server: cannot listen on 127.0.0.1: {e}"),
        };
        let addr = match listener.local_addr() {
            Ok(a) => a,
            Err(e) => panic!("fake LLM server: no local address: {e}"),
        };
        let shared = Arc::new(shared);
        let acceptor = {
            let shared = Arc::clone(&shared);
            std::thread::Builder::new()
                .name("fake-llm-accept".into())
                .spawn(move || accept_loop(listener, shared))
                .ok()
        };
        FakeServer {
            addr,
            shared,
            acceptor,
        }
    }

    /// Delays every reply by `d` (after the request is recorded), e.g. to trip a timeout.
    pub fn with_delay(self, d: Duration) -> Self {
        self.set_delay(d);
        self
    }

    /// Changes the delay of the replies still to come.
    pub fn set_delay(&self, d: Duration) {
        *lock(&self.shared.delay) = d;
    }

    /// Serves `r` whenever the script and function have nothing, instead of repeating the
    /// last reply.
    pub fn with_fallback(self, r: FakeReply) -> Self {
        lock(&self.shared.script).fallback = Some(r);
        self
    }

    /// `http://127.0.0.1:PORT`, no trailing slash: use it as `base_url` of either provider.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every request received so far, oldest first.
    pub fn requests(&self) -> Vec<Recorded> {
        lock(&self.shared.requests).clone()
    }

    /// Appends `r` to the script.
    pub fn push(&self, r: FakeReply) {
        lock(&self.shared.script).queue.push_back(r);
    }
}

impl std::fmt::Debug for FakeServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeServer")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        self.shared.stopping.store(true, Ordering::SeqCst);
        // Wake the blocking accept(); if that fails, leave the thread be rather than hang.
        if TcpStream::connect_timeout(&self.addr, Duration::from_secs(1)).is_ok()
            && let Some(acceptor) = self.acceptor.take()
        {
            let _ = acceptor.join();
        }
    }
}

fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    for stream in listener.incoming() {
        if shared.stopping.load(Ordering::SeqCst) {
            return;
        }
        let Ok(stream) = stream else {
            std::thread::sleep(Duration::from_millis(10)); // e.g. out of file descriptors
            continue;
        };
        let shared = Arc::clone(&shared);
        let _ = std::thread::Builder::new()
            .name("fake-llm-conn".into())
            .spawn(move || handle(stream, &shared));
    }
}

fn handle(mut stream: TcpStream, shared: &Shared) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let Ok(request) = wire::read_request(&mut stream) else {
        return;
    };
    lock(&shared.requests).push(request.clone());
    let reply = lock(&shared.script).next(&request);
    let delay = *lock(&shared.delay);
    if !delay.is_zero() {
        std::thread::sleep(delay);
    }
    let _ = wire::write_reply(&mut stream, &reply, &request);
}
