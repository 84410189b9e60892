//! `autolab serve`: a live web dashboard over the ledger. A process of its own that reads the
//! ledger (never a campaign's memory), so it works whether or not `autolab run` is live and
//! outlives a campaign that is killed and resumed. Controls go through the campaign's inbox.
//! axum on tokio, confined to this command; templates and assets are compiled in.

mod auth;
mod files;
mod live;
mod routes;
mod views;

use std::net::{IpAddr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use autolab_core::StatePaths;
use autolab_core::git::Repo;
use tokio::sync::broadcast;

use crate::output::CliError;
pub use auth::{Access, Controls};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The campaign shown first (default: the most recently active).
    #[arg(long)]
    pub tag: Option<String>,
    /// Port to listen on (0: any free port; the URL printed says which).
    #[arg(long, default_value_t = 8177)]
    pub port: u16,
    /// Address to listen on. Anything but loopback requires the token for every request.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    /// No controls (pause, resume, stop, cancel, steer) on the pages.
    #[arg(long)]
    pub read_only: bool,
    /// Controls work without the token (only when listening on loopback).
    #[arg(long, conflicts_with = "read_only")]
    pub allow_controls: bool,
}

/// What every request shares.
pub struct App {
    pub root: PathBuf,
    pub paths: StatePaths,
    pub access: Access,
    pub tag: Option<String>,
    pub env: minijinja::Environment<'static>,
    pub live: broadcast::Sender<live::Live>,
}

pub fn serve(dir: &Path, args: Args) -> Result<ExitCode, CliError> {
    let repo = Repo::discover(dir)?;
    let host: IpAddr = args.host.parse().map_err(|_| {
        CliError::usage(
            format!("--host {}: not an IP address", args.host),
            Some("127.0.0.1 (this machine only, the default) or 0.0.0.0 (every interface, with a token)"),
        )
    })?;
    let loopback = host.is_loopback();
    if args.allow_controls && !loopback {
        return Err(CliError::usage(
            "--allow-controls works only on a loopback address",
            Some("beyond loopback the controls need the token printed at start"),
        ));
    }
    let access = Access {
        token: auth::new_token()?,
        token_to_look: !loopback,
        controls: if args.read_only {
            Controls::Hidden
        } else if args.allow_controls {
            Controls::Open
        } else {
            Controls::WithToken
        },
    };
    let listener = TcpListener::bind(SocketAddr::new(host, args.port)).map_err(|e| {
        CliError::failure(
            format!("cannot listen on {host}:{}: {e}", args.port),
            Some("pick another --port (0 takes any free one)"),
        )
    })?;
    listener.set_nonblocking(true)?;
    let addr = listener.local_addr()?;
    let paths = StatePaths::new(&repo.root);
    let (tx, _) = broadcast::channel(1024);
    live::start(paths.ledger(), tx.clone());
    let app = Arc::new(App {
        root: repo.root.clone(),
        paths,
        access: access.clone(),
        tag: args.tag.clone(),
        env: routes::templates(),
        live: tx,
    });
    // The one place the token is shown.
    let shown = if addr.ip().is_unspecified() {
        SocketAddr::new(IpAddr::from([127, 0, 0, 1]), addr.port())
    } else {
        addr
    };
    println!("dashboard: http://{shown}/?token={}", access.token);
    eprintln!(
        "autolab serve: listening on {addr}{}; Ctrl-C ends it",
        if loopback {
            " (this machine only)"
        } else {
            " (every request needs the token)"
        }
    );
    use std::io::Write;
    let _ = std::io::stdout().flush();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::from_std(listener)?;
        axum::serve(listener, routes::router(app))
            .with_graceful_shutdown(async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await
    })?;
    Ok(ExitCode::SUCCESS)
}
