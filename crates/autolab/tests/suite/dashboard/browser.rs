//! A real headless Chromium driven through chromedriver's WebDriver API (plain JSON over HTTP,
//! with the blocking client the tests already use).

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// The key WebDriver names elements by.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

pub struct Browser {
    base: String,
    session: String,
    driver: Child,
    http: ureq::Agent,
    _profile: tempfile::TempDir,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap()
}

impl Browser {
    /// Starts chromedriver and a headless Chromium session; None (after saying why) when they
    /// are not installed.
    pub fn start() -> Option<Browser> {
        let found = |p: &str| std::path::Path::new(p).exists();
        if !found("/usr/bin/chromedriver") || !found("/usr/bin/chromium") {
            super::super::common::skip(
                "chromium and chromium-driver are not installed (CI installs them)",
            );
            return None;
        }
        let port = free_port();
        let driver = Command::new("/usr/bin/chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let base = format!("http://127.0.0.1:{port}");
        let http = autolab_llm::http_agent(&base, Duration::from_secs(60));
        let up = Instant::now();
        while http.get(&format!("{base}/status")).call().is_err() {
            assert!(
                up.elapsed() < Duration::from_secs(20),
                "chromedriver did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        let profile = tempfile::tempdir().unwrap();
        let caps = json!({"capabilities": {"alwaysMatch": {"goog:chromeOptions": {
            "binary": "/usr/bin/chromium",
            "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--disable-quic", "--disable-background-networking", "--disable-component-update",
                     "--disable-sync", "--no-first-run", "--window-size=1400,1100",
                     format!("--user-data-dir={}", profile.path().display())]
        }}}});
        let mut b = Browser {
            base,
            session: String::new(),
            driver,
            http,
            _profile: profile,
        };
        let v = b.call("POST", "/session", caps);
        b.session = v["sessionId"]
            .as_str()
            .expect("a WebDriver session")
            .to_string();
        Some(b)
    }

    fn call(&self, method: &str, path: &str, body: Value) -> Value {
        let url = format!("{}{path}", self.base);
        let mut resp = match method {
            "GET" => self.http.get(&url).call(),
            "DELETE" => self.http.delete(&url).call(),
            _ => self
                .http
                .post(&url)
                .header("content-type", "application/json")
                .send(body.to_string()),
        }
        .unwrap();
        let text = resp
            .body_mut()
            .with_config()
            .limit(64 << 20)
            .read_to_string()
            .unwrap_or_default();
        let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        v["value"].clone()
    }

    fn session(&self, method: &str, path: &str, body: Value) -> Value {
        self.call(method, &format!("/session/{}{path}", self.session), body)
    }

    pub fn goto(&self, url: &str) {
        self.session("POST", "/url", json!({"url": url}));
    }

    /// The element `css` selects, if there is one now.
    pub fn find(&self, css: &str) -> Option<String> {
        let v = self.session(
            "POST",
            "/element",
            json!({"using": "css selector", "value": css}),
        );
        v[ELEMENT].as_str().map(str::to_string)
    }

    pub fn text(&self, el: &str) -> String {
        self.session("GET", &format!("/element/{el}/text"), Value::Null)
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// Clicks what `css` selects; again if the page swapped it out under the click (a live
    /// update between finding and clicking).
    pub fn click(&self, css: &str) {
        self.act(css, "click", json!({}));
    }

    pub fn type_into(&self, css: &str, text: &str) {
        self.act(css, "value", json!({"text": text}));
    }

    fn act(&self, css: &str, what: &str, body: Value) {
        for _ in 0..20 {
            let el = self.wait(css, |_| true);
            let v = self.session("POST", &format!("/element/{el}/{what}"), body.clone());
            if v.get("error").is_none() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("could not {what} `{css}`");
    }

    /// Runs `js` in the page (`return …` gives a value).
    pub fn script(&self, js: &str) -> Value {
        self.session("POST", "/execute/sync", json!({"script": js, "args": []}))
    }

    /// Waits (60 s at most) until `css` selects an element whose text satisfies `ok`; its id.
    pub fn wait(&self, css: &str, ok: impl Fn(&str) -> bool) -> String {
        let start = Instant::now();
        loop {
            if let Some(el) = self.find(css) {
                let text = self.text(&el);
                if ok(&text) {
                    return el;
                }
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "the page never showed `{css}` as expected; it shows:\n{}",
                self.script("return document.body.innerText")
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Writes a PNG of the window to `path`.
    pub fn screenshot(&self, path: &std::path::Path) {
        let b64 = self.session("GET", "/screenshot", Value::Null);
        let png = base64(b64.as_str().unwrap_or_default());
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).unwrap();
        }
        std::fs::write(path, png).unwrap();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let _ = self
                .http
                .delete(&format!("{}/session/{}", self.base, self.session))
                .call();
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// Standard base64 to bytes.
fn base64(text: &str) -> Vec<u8> {
    let val = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0);
    for c in text.bytes().filter_map(val) {
        acc = (acc << 6) | c;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    out
}
