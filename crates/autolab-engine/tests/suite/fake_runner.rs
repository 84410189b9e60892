//! An in-process runner with scripted outcomes: the loop's decisions without processes.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use autolab_runner::{Exit, Finished, Handle, LineWatch, RunSpec, Runner, RunnerError};

/// What one scripted run does.
#[derive(Debug, Clone)]
pub enum Act {
    /// Prints these lines and exits with this code.
    Print(String, i32),
    /// Dies of this signal.
    Signal(i32),
    /// Runs until the loop cancels it (at most [`HOLD_AT_MOST`], then it fails: a loop that
    /// never cancels fails its test instead of hanging it).
    Hold,
}

/// Prints `val_loss: x` and exits 0.
pub fn loss(x: f64) -> Act {
    Act::Print(format!("val_loss: {x}\n"), 0)
}

/// How long a held run waits to be cancelled.
pub const HOLD_AT_MOST: Duration = Duration::from_secs(20);

type Script = Box<dyn Fn(u32) -> Act + Send + Sync>;
type OnStart = Box<dyn Fn(u32) + Send + Sync>;

/// Runs each experiment as `script` says, by its number; records the numbers it ran.
pub struct Scripted {
    script: Script,
    on_start: Option<OnStart>,
    pub ran: Mutex<Vec<u32>>,
    /// Runs as cluster jobs (job id = the experiment's number) that outlive the loop.
    cluster: bool,
    /// Jobs waited for again, with whether the loop had cancelled them already.
    pub attached: Mutex<Vec<(u32, bool)>>,
}

impl Scripted {
    pub fn new(script: impl Fn(u32) -> Act + Send + Sync + 'static) -> Scripted {
        Scripted {
            script: Box::new(script),
            on_start: None,
            ran: Mutex::new(Vec::new()),
            cluster: false,
            attached: Mutex::new(Vec::new()),
        }
    }

    /// Runs as cluster jobs: each reports a job id, and a restarted loop waits for it again
    /// ([`Runner::attach`], running the script from there).
    pub fn cluster(mut self) -> Scripted {
        self.cluster = true;
        self
    }

    /// Also calls `f` with the experiment's number as each run starts.
    pub fn on_start(mut self, f: impl Fn(u32) + Send + Sync + 'static) -> Scripted {
        self.on_start = Some(Box::new(f));
        self
    }

    pub fn ran(&self) -> Vec<u32> {
        self.ran.lock().unwrap().clone()
    }
}

fn number(spec: &RunSpec) -> u32 {
    spec.env
        .iter()
        .find(|(k, _)| k == "AUTOLAB_EXPERIMENT")
        .and_then(|(_, v)| v.rsplit('/').next()?.parse().ok())
        .expect("AUTOLAB_EXPERIMENT names the experiment")
}

impl Runner for Scripted {
    fn name(&self) -> &'static str {
        if self.cluster {
            "fake-cluster"
        } else {
            "local"
        }
    }

    fn run(
        &self,
        spec: &RunSpec,
        cancel: &AtomicBool,
        started: &mut dyn FnMut(Handle),
        watch: Option<LineWatch>,
    ) -> Result<Finished, RunnerError> {
        let n = number(spec);
        self.ran.lock().unwrap().push(n);
        if self.cluster {
            started(Handle::Job {
                scheduler: "slurm".into(),
                id: n.to_string(),
            });
        }
        if let Some(f) = &self.on_start {
            f(n);
        }
        Ok(self.play(n, spec, cancel, watch))
    }

    fn attach(
        &self,
        _handle: &Handle,
        spec: &RunSpec,
        cancel: &AtomicBool,
    ) -> Option<Result<Finished, RunnerError>> {
        if !self.cluster {
            return None;
        }
        let n = number(spec);
        self.attached
            .lock()
            .unwrap()
            .push((n, cancel.load(Ordering::SeqCst)));
        if let Some(f) = &self.on_start {
            f(n);
        }
        Some(Ok(self.play(n, spec, cancel, None)))
    }
}

impl Scripted {
    /// What experiment `n`'s run does, as the script says.
    fn play(
        &self,
        n: u32,
        spec: &RunSpec,
        cancel: &AtomicBool,
        mut watch: Option<LineWatch>,
    ) -> Finished {
        std::fs::create_dir_all(&spec.run_dir).unwrap();
        let stdout = spec.run_dir.join("stdout.log");
        let stderr = spec.run_dir.join("stderr.log");
        std::fs::write(&stderr, "").unwrap();
        let mut stop_reason = None;
        let exit = match (self.script)(n) {
            Act::Print(text, code) => {
                std::fs::write(&stdout, &text).unwrap();
                for line in text.lines() {
                    if let Some(sink) = &spec.line_sink {
                        (sink.0)(line);
                    }
                    if let Some(reason) = watch.as_mut().and_then(|w| w(line)) {
                        stop_reason = Some(reason);
                        break;
                    }
                }
                if stop_reason.is_some() {
                    Exit::Stopped
                } else {
                    Exit::Code(code)
                }
            }
            Act::Signal(s) => {
                std::fs::write(&stdout, "").unwrap();
                Exit::Signal(s)
            }
            Act::Hold => {
                std::fs::write(&stdout, "").unwrap();
                let held = std::time::Instant::now();
                while !cancel.load(Ordering::SeqCst) && held.elapsed() < HOLD_AT_MOST {
                    std::thread::park_timeout(Duration::from_millis(5));
                }
                if cancel.load(Ordering::SeqCst) {
                    Exit::Cancelled
                } else {
                    Exit::Code(99)
                }
            }
        };
        Finished {
            exit,
            elapsed: Duration::from_millis(1),
            stdout,
            stderr,
            truncated: false,
            stop_reason,
            layers: Vec::new(),
            streamed: true,
        }
    }
}
