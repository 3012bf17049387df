//! The database's part of a backup: a consistent copy taken while the server runs (SQLite's `VACUUM INTO`,
//! PostgreSQL's `pg_dump`, both of which read one snapshot), and putting it back.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail, ensure};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};

use crate::config::Settings;

pub const SQLITE_ENTRY: &str = "database.sqlite";
pub const POSTGRES_ENTRY: &str = "database.pgdump";

/// Writes a copy of the database into `dir`; returns its entry name and path.
pub async fn snapshot(
    db: &DatabaseConnection,
    settings: &Settings,
    dir: &Path,
) -> anyhow::Result<(&'static str, PathBuf)> {
    match db.get_database_backend() {
        DbBackend::Sqlite => {
            let path = dir.join(SQLITE_ENTRY);
            let target = path.to_str().context("the backup's temporary path is not UTF-8")?.replace('\'', "''");
            db.execute_unprepared(&format!("VACUUM INTO '{target}'")).await.context("copying the SQLite database")?;
            Ok((SQLITE_ENTRY, path))
        }
        DbBackend::Postgres => {
            let path = dir.join(POSTGRES_ENTRY);
            let file = path.to_str().context("the backup's temporary path is not UTF-8")?;
            pg_tool(
                "pg_dump",
                &settings.database_url(),
                &["--format=custom", "--no-owner", "--no-privileges", "--file", file],
            )
            .await?;
            Ok((POSTGRES_ENTRY, path))
        }
        other => bail!("backups of a {other:?} database are not supported"),
    }
}

/// Runs `pg_dump` or `pg_restore` against `url`, the password passed in the environment rather than on the
/// command line (where `ps` would show it).
async fn pg_tool(tool: &str, url: &str, args: &[&str]) -> anyhow::Result<()> {
    let mut parsed = url::Url::parse(url).context("the database URL is not a URL")?;
    let password = parsed.password().map(str::to_owned);
    let _ = parsed.set_password(None);
    let mut command = tokio::process::Command::new(tool);
    command.args(args).arg("--dbname").arg(parsed.as_str()).kill_on_drop(true);
    if let Some(password) = password {
        command.env("PGPASSWORD", password);
    }
    let output = command.output().await.with_context(|| {
        format!("running {tool} (PostgreSQL's client tools must be installed, same major version as the server)")
    })?;
    ensure!(output.status.success(), "{tool} failed: {}", String::from_utf8_lossy(&output.stderr).trim());
    Ok(())
}

/// The last migration applied, which an archive records so an older Bwenge can refuse it.
pub async fn schema(db: &DatabaseConnection) -> anyhow::Result<String> {
    let row = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT version FROM seaql_migrations ORDER BY version DESC LIMIT 1",
        ))
        .await
        .context("reading the schema version")?;
    Ok(row.map(|r| r.try_get_by_index::<String>(0)).transpose()?.unwrap_or_default())
}

/// Whether this build knows `schema` (an archive from a newer Bwenge has migrations this one lacks).
pub fn known_schema(schema: &str) -> bool {
    use migration::MigratorTrait;
    schema.is_empty() || migration::Migrator::migrations().iter().any(|m| m.name() == schema)
}

/// Rows per table, migrations' own table aside.
pub async fn row_counts(db: &DatabaseConnection) -> anyhow::Result<BTreeMap<String, u64>> {
    let backend = db.get_database_backend();
    let list = match backend {
        DbBackend::Sqlite => "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
        _ => {
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() \
              AND table_type = 'BASE TABLE'"
        }
    };
    let mut counts = BTreeMap::new();
    for row in db.query_all_raw(Statement::from_string(backend, list)).await? {
        let table: String = row.try_get_by_index(0)?;
        if table == "seaql_migrations" || !table.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            continue;
        }
        let sql = format!("SELECT COUNT(*) FROM \"{table}\"");
        let count = db.query_one_raw(Statement::from_string(backend, sql)).await?;
        let count: i64 = count.map(|r| r.try_get_by_index(0)).transpose()?.unwrap_or(0);
        counts.insert(table, u64::try_from(count).unwrap_or(0));
    }
    Ok(counts)
}

/// The SQLite file a restore writes, when the database is SQLite.
pub fn sqlite_path(settings: &Settings) -> Option<PathBuf> {
    let url = settings.database_url();
    let rest = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or(rest);
    (!path.is_empty() && path != ":memory:").then(|| PathBuf::from(path))
}

/// Puts the archived database in place of the configured one, which must hold no rows unless `force`.
pub async fn load(settings: &Settings, entry: &str, staged: &Path, force: bool) -> anyhow::Result<()> {
    match (entry, sqlite_path(settings)) {
        (SQLITE_ENTRY, Some(path)) => {
            if path.exists() {
                let db = super::super::db::connect(settings).await?;
                let rows: u64 = row_counts(&db).await?.values().sum();
                db.close().await?;
                ensure!(
                    force || rows == 0,
                    "{} already holds data ({rows} rows): pass --force to replace it",
                    path.display()
                );
            }
            for suffix in ["", "-wal", "-shm"] {
                let file = PathBuf::from(format!("{}{suffix}", path.display()));
                if file.exists() {
                    std::fs::remove_file(&file).with_context(|| format!("removing {}", file.display()))?;
                }
            }
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::rename(staged, &path)
                .or_else(|_| std::fs::copy(staged, &path).map(|_| ()))
                .with_context(|| format!("writing {}", path.display()))?;
            Ok(())
        }
        (POSTGRES_ENTRY, None) => {
            let db = super::super::db::connect(settings).await?;
            let counts = row_counts(&db).await?;
            db.close().await?;
            let rows: u64 = counts.values().sum();
            ensure!(
                force || rows == 0,
                "the target database already holds data ({rows} rows): pass --force to replace it"
            );
            let file = staged.to_str().context("the staging path is not UTF-8")?;
            let mut args = vec!["--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction"];
            // Tables left by `bwenge migrate` (empty) or replaced under --force are dropped first.
            if !counts.is_empty() {
                args.extend(["--clean", "--if-exists"]);
            }
            args.push(file);
            pg_tool("pg_restore", &settings.database_url(), &args).await
        }
        (SQLITE_ENTRY, None) => bail!("this archive holds a SQLite database, but the target is PostgreSQL"),
        (_, Some(_)) => bail!("this archive holds a PostgreSQL dump, but the target is SQLite"),
        (other, None) => bail!("unknown database entry {other}"),
    }
}
