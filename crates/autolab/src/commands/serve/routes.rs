//! The dashboard's routes: pages (overview, experiment), the live stream, figures, assets and
//! the one route that acts (`POST /control`, into the campaign's inbox).

use std::collections::HashMap;
use std::sync::Arc;

use autolab_core::control::Command;
use autolab_core::ledger::Ledger;
use axum::Router;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::json;

use super::auth::{COOKIE, Controls};
use super::{App, files, live, views};
use crate::commands::control::live_tag;

const BASE: &str = include_str!("templates/base.html");
const OVERVIEW: &str = include_str!("templates/overview.html");
const EXPERIMENT: &str = include_str!("templates/experiment.html");
const APP_JS: &str = include_str!("assets/app.js");
const APP_CSS: &str = include_str!("assets/app.css");
/// The largest command a page may send (a steering note is 2,000 characters at most).
const CONTROL_BODY_BYTES: usize = 32 * 1024;

pub fn templates() -> minijinja::Environment<'static> {
    let mut env = minijinja::Environment::new();
    for (name, text) in [
        ("base.html", BASE),
        ("overview.html", OVERVIEW),
        ("experiment.html", EXPERIMENT),
    ] {
        // Compiled in and tested: a broken template fails the tests, not a user.
        if let Err(e) = env.add_template(name, text) {
            tracing::error!("template {name}: {e}");
        }
    }
    env
}

pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/", get(overview))
        .route("/experiment/{n}", get(experiment))
        .route("/figure/{n}/{run}/{*name}", get(figure))
        .route("/events", get(events))
        .route(
            "/control",
            post(control).layer(axum::extract::DefaultBodyLimit::max(CONTROL_BODY_BYTES)),
        )
        .route(
            "/assets/app.js",
            get(|| async { asset("text/javascript", APP_JS) }),
        )
        .route(
            "/assets/app.css",
            get(|| async { asset("text/css", APP_CSS) }),
        )
        .layer(middleware::from_fn_with_state(app.clone(), guard))
        .with_state(app)
}

fn asset(kind: &'static str, text: &'static str) -> Response {
    ([(header::CONTENT_TYPE, kind)], text).into_response()
}

/// Tokens the request carries, and whether one was valid.
fn tokens(req_headers: &HeaderMap, query: Option<&str>) -> Vec<String> {
    let h = |name: header::HeaderName| req_headers.get(name).and_then(|v| v.to_str().ok());
    super::auth::carried(query, h(header::AUTHORIZATION), h(header::COOKIE))
}

/// Every request: the token when the server is bound beyond loopback; the headers that keep a
/// page inert (no inline script, no framing, no referrer carrying the token).
async fn guard(State(app): State<Arc<App>>, req: Request, next: Next) -> Response {
    let carried = tokens(req.headers(), req.uri().query());
    let valid = app.access.valid(&carried);
    if app.access.token_to_look && !valid {
        return (
            StatusCode::UNAUTHORIZED,
            "this dashboard needs its token: open the URL `autolab serve` printed (…/?token=…)\n",
        )
            .into_response();
    }
    let from_query = req
        .uri()
        .query()
        .is_some_and(|q| app.access.valid(&super::auth::carried(Some(q), None, None)));
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; form-action 'self'",
        ),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if from_query
        && let Ok(v) = HeaderValue::from_str(&format!(
            "{COOKIE}={}; Path=/; HttpOnly; SameSite=Strict",
            app.access.token
        ))
    {
        h.insert(header::SET_COOKIE, v);
    }
    resp
}

type Failure = (StatusCode, String);

fn fail(e: impl std::fmt::Display) -> Failure {
    (StatusCode::INTERNAL_SERVER_ERROR, format!("{e}\n"))
}

/// What the page's controls are: hidden, locked (token missing) or on (with the token to
/// embed in its forms).
fn controls_for(app: &App, carried: &[String]) -> (&'static str, String) {
    match app.access.controls {
        Controls::Hidden => ("hidden", String::new()),
        Controls::Open => ("on", String::new()),
        Controls::WithToken if app.access.valid(carried) => ("on", app.access.token.clone()),
        Controls::WithToken => ("locked", String::new()),
    }
}

/// Runs `f` on the ledger off the async threads.
async fn with_ledger<T: Send + 'static>(
    app: &Arc<App>,
    f: impl FnOnce(&Ledger, &App) -> Result<T, Failure> + Send + 'static,
) -> Result<T, Failure> {
    let app = app.clone();
    tokio::task::spawn_blocking(move || {
        let path = app.paths.ledger();
        if !path.exists() {
            return Err((
                StatusCode::NOT_FOUND,
                format!(
                    "no campaign has run in {} yet: start one with `autolab run --tag NAME`; this page shows it once it starts\n",
                    app.root.display()
                ),
            ));
        }
        // A campaign starting now has created the file but not yet its tables (its first
        // write is a moment away): wait for them rather than show the half-made ledger.
        let mut tries = 0;
        let ledger = loop {
            match Ledger::open_read_only(&path) {
                Err(e) if tries < 40 && e.to_string().contains("no such table") => {
                    tries += 1;
                    std::thread::sleep(std::time::Duration::from_millis(50));
                }
                other => break other.map_err(fail)?,
            }
        };
        f(&ledger, &app)
    })
    .await
    .map_err(fail)?
}

fn render(app: &App, name: &str, ctx: serde_json::Value) -> Result<Html<String>, Failure> {
    let t = app.env.get_template(name).map_err(fail)?;
    t.render(minijinja::Value::from(minijinja::value::Serde(&ctx)))
        .map(Html)
        .map_err(fail)
}

async fn overview(
    State(app): State<Arc<App>>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
    req: Request,
) -> Result<Html<String>, Failure> {
    let carried = tokens(&headers, req.uri().query());
    let (controls, token) = controls_for(&app, &carried);
    with_ledger(&app, move |ledger, app| {
        let asked = q.get("tag").cloned().or_else(|| app.tag.clone());
        let (campaigns, tag) =
            views::campaigns(ledger, asked.as_deref()).map_err(|e| (StatusCode::NOT_FOUND, format!("{e}\n")))?;
        let live = live_tag(&app.root).as_deref() == Some(tag.as_str());
        let o = views::overview(ledger, &app.root, &tag, live, q.get("sort").map(String::as_str))
            .map_err(fail)?;
        // Another campaign of the lab beside this one: its summary and plot.
        let compare = match q.get("compare").filter(|c| **c != tag && campaigns.contains(c)) {
            Some(other) => {
                let live = live_tag(&app.root).as_deref() == Some(other.as_str());
                let v = views::overview(ledger, &app.root, other, live, None).map_err(fail)?;
                serde_json::json!({"tag": other, "o": v})
            }
            None => serde_json::Value::Null,
        };
        render(
            app,
            "overview.html",
            json!({"tag": tag, "campaigns": campaigns, "o": o, "controls": controls, "token": token, "compare": compare, "live": live}),
        )
    })
    .await
}

async fn experiment(
    State(app): State<Arc<App>>,
    Path(n): Path<u32>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Html<String>, Failure> {
    with_ledger(&app, move |ledger, app| {
        let asked = q.get("tag").cloned().or_else(|| app.tag.clone());
        let (campaigns, tag) = views::campaigns(ledger, asked.as_deref())
            .map_err(|e| (StatusCode::NOT_FOUND, format!("{e}\n")))?;
        let Some(e) = views::experiment(ledger, &app.root, &tag, n).map_err(fail)? else {
            return Err((
                StatusCode::NOT_FOUND,
                format!("no experiment #{n} in `{tag}`\n"),
            ));
        };
        render(
            app,
            "experiment.html",
            json!({"tag": tag, "campaigns": campaigns, "e": e}),
        )
    })
    .await
}

async fn figure(
    State(app): State<Arc<App>>,
    Path((n, run, name)): Path<(u32, u32, String)>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, Failure> {
    let path = with_ledger(&app, move |ledger, app| {
        let asked = q.get("tag").cloned().or_else(|| app.tag.clone());
        let not_found = || (StatusCode::NOT_FOUND, "no such figure\n".to_string());
        let (_, tag) = views::campaigns(ledger, asked.as_deref()).map_err(|_| not_found())?;
        let c = ledger.campaign(&tag).map_err(fail)?.ok_or_else(not_found)?;
        let e = ledger.experiment(c.id, n).map_err(fail)?;
        let runs = match e {
            Some(e) => ledger.runs(e.row).map_err(fail)?,
            None => Vec::new(),
        };
        runs.iter()
            .find(|r| r.index == run)
            .and_then(|r| files::figure_path(std::path::Path::new(&r.run_dir), &name))
            .ok_or_else(|| (StatusCode::NOT_FOUND, "no such figure\n".to_string()))
    })
    .await?;
    let kind = files::kind(&path.to_string_lossy()).unwrap_or("application/octet-stream");
    let bytes = tokio::fs::read(&path).await.map_err(fail)?;
    // An SVG opened on its own runs no script.
    Ok((
        [
            (header::CONTENT_TYPE, kind),
            (header::CONTENT_SECURITY_POLICY, "sandbox"),
        ],
        bytes,
    )
        .into_response())
}

async fn events(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    let rx = app.live.subscribe();
    let after = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<i64>().ok());
    let replayed = match after {
        Some(id) => {
            let path = app.paths.ledger();
            tokio::task::spawn_blocking(move || live::replay(&path, id))
                .await
                .unwrap_or_default()
        }
        None => Vec::new(),
    };
    live::stream(replayed, rx).into_response()
}

#[derive(Debug, Deserialize)]
struct ControlForm {
    tag: String,
    command: String,
    #[serde(default)]
    arg: String,
    #[serde(default)]
    token: String,
}

/// Writes a command into the campaign's inbox (the loop takes it within a turn and records
/// its effect, which the page then shows), or a steering note.
async fn control(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<ControlForm>,
) -> Result<String, Failure> {
    // The token must be in the request itself: a form field or the Authorization header.
    let mut explicit = vec![form.token.clone()];
    explicit.extend(
        tokens(&headers, None)
            .into_iter()
            .take(1)
            .filter(|_| headers.contains_key(header::AUTHORIZATION)),
    );
    app.access
        .may_act(&explicit)
        .map_err(|why| (StatusCode::FORBIDDEN, format!("{why}\n")))?;
    let command = match form.command.as_str() {
        "pause" => Command::Pause,
        "resume" => Command::Resume,
        "stop" => Command::Stop,
        "cancel" | "approve" | "reject" => {
            let n: u32 = form.arg.trim().parse().map_err(|_| {
                (
                    StatusCode::BAD_REQUEST,
                    format!(
                        "{} needs an experiment number, not `{}`\n",
                        form.command, form.arg
                    ),
                )
            })?;
            match form.command.as_str() {
                "cancel" => Command::Cancel(n),
                "approve" => Command::Approve(n),
                _ => Command::Reject(n),
            }
        }
        "steer" if !form.arg.trim().is_empty() => Command::Steer(
            crate::commands::steer::clean_note(&form.arg)
                .map_err(|why| (StatusCode::PAYLOAD_TOO_LARGE, format!("{why}\n")))?,
        ),
        "steer" => return Err((StatusCode::BAD_REQUEST, "nothing to say\n".into())),
        other => {
            return Err((
                StatusCode::BAD_REQUEST,
                format!("unknown command `{other}`\n"),
            ));
        }
    };
    let app2 = app.clone();
    tokio::task::spawn_blocking(move || {
        let app = app2;
        if let Command::Steer(text) = &command {
            crate::commands::steer::write_note(&app.paths, text, false).map_err(fail)?;
        }
        let live = live_tag(&app.root);
        if live.as_deref() != Some(form.tag.as_str()) {
            return match command {
                Command::Steer(_) => Ok("noted in the steering notes; the next ideation reads it\n".to_string()),
                _ => Err((
                    StatusCode::CONFLICT,
                    format!(
                        "no run of campaign `{}` is live to take it; resume it with `autolab run --tag {}`\n",
                        form.tag, form.tag
                    ),
                )),
            };
        }
        let ledger = Ledger::open(&app.paths.ledger()).map_err(fail)?;
        let c = ledger
            .campaign(&form.tag)
            .map_err(fail)?
            .ok_or_else(|| (StatusCode::NOT_FOUND, format!("no campaign `{}`\n", form.tag)))?;
        let id = ledger
            .controls()
            .push(c.id, &command, "the dashboard")
            .map_err(fail)?;
        Ok(format!("sent: {command} (#{id}); the campaign answers on its next turn\n"))
    })
    .await
    .map_err(fail)?
}
