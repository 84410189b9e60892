//! `autolab serve` as a child process, and plain HTTP against it.

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::time::Duration;

use super::super::common::TestLab;

pub struct Served {
    child: Child,
    /// `http://127.0.0.1:PORT`
    pub base: String,
    pub token: String,
    pub http: ureq::Agent,
}

impl Served {
    /// Starts `autolab serve --port 0 <args>` in `lab` and reads the URL it prints.
    pub fn start(lab: &TestLab, args: &[&str]) -> Served {
        let mut child = lab
            .cmd()
            .args(["serve", "--port", "0"])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let url = line
            .trim()
            .strip_prefix("dashboard: ")
            .unwrap_or_else(|| panic!("serve printed {line:?}"))
            .to_string();
        let (base, token) = url.split_once("/?token=").unwrap();
        Served {
            child,
            base: base.to_string(),
            token: token.to_string(),
            http: autolab_llm::http_agent(base, Duration::from_secs(30)),
        }
    }

    /// The page's URL with the token.
    pub fn url(&self, path: &str) -> String {
        let sep = if path.contains('?') { '&' } else { '?' };
        format!("{}{path}{sep}token={}", self.base, self.token)
    }

    /// GET `path` (as given): status and body.
    pub fn get(&self, path: &str) -> (u16, String) {
        let mut r = self
            .http
            .get(&format!("{}{path}", self.base))
            .call()
            .unwrap();
        (
            r.status().as_u16(),
            r.body_mut().read_to_string().unwrap_or_default(),
        )
    }

    /// POST a form to `/control`.
    pub fn control(&self, form: &[(&str, &str)]) -> (u16, String) {
        let body: Vec<String> = form
            .iter()
            .map(|(k, v)| format!("{k}={}", encode(v)))
            .collect();
        let mut r = self
            .http
            .post(&format!("{}/control", self.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .send(body.join("&"))
            .unwrap();
        (
            r.status().as_u16(),
            r.body_mut().read_to_string().unwrap_or_default(),
        )
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A form value, percent-encoded.
fn encode(v: &str) -> String {
    v.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            b' ' => "+".to_string(),
            b => format!("%{b:02X}"),
        })
        .collect()
}
