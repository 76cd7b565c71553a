//! `scripts/backup.sh` and `scripts/restore.sh` against real databases: a round trip
//! gives identical tables, a damaged or unverified backup restores nothing, retention
//! keeps the newest N, and a backup of the private cluster works when it is not running.

use std::path::{Path, PathBuf};

use uuid::Uuid;

use crate::harness::{TestApp, TestDb, open_tempdir};
use crate::ops_support::{
    all_tables, assert_every_table_has_rows, db_fingerprint, ok, populate_every_domain,
    refresh_metrics, script, stderr, stdout, tenant_fingerprint,
};

/// Backs up `url` into `dir`; returns the dump's path.
fn backup(url: &str, dir: &Path) -> PathBuf {
    let out = ok(&script(
        "backup.sh",
        &[],
        &[
            ("DATABASE_URL", url),
            ("BACKUP_DIR", dir.to_str().expect("dir")),
        ],
    ));
    assert!(out.contains("backup: wrote"), "{out}");
    dumps(dir).pop().expect("a dump")
}

/// The dumps in `dir`, oldest first.
fn dumps(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("read backups")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "dump"))
        .collect();
    v.sort();
    v
}

fn with_ext(p: &Path, ext: &str) -> PathBuf {
    PathBuf::from(format!("{}{ext}", p.display()))
}

/// Two tenants with rows in every tenant table (through the API, with their audit
/// rows, and today's metrics).
async fn populated() -> TestApp {
    let app = TestApp::new().await;
    let a = app.tenant("acme").await;
    let b = app.tenant("bravo").await;
    app.user(&b, "viewer").await;
    populate_every_domain(&app, &a).await;
    populate_every_domain(&app, &b).await;
    refresh_metrics(&app.db).await;
    // An audit row in the default partition too.
    app.db.exec(&format!(
        "INSERT INTO audit_logs (tenant_id, id, \"timestamp\", action, resource_type)
         VALUES ('{}', '{}', '1999-12-31T23:59:59Z', 'user.updated', 'user')",
        a.id,
        Uuid::now_v7()
    ));
    app
}

fn table_count(db: &TestDb) -> i64 {
    db.scalar(
        "SELECT count(*) FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relkind IN ('r', 'p')",
    )
}

#[tokio::test]
async fn backup_then_restore_gives_identical_tables() {
    crate::skip_on_citus!(
        "a backup of the whole database is a single-node operation: pg_dump of the coordinator holds no shard data (docs/scaling.md)"
    );
    let app = populated().await;
    let dir = open_tempdir();
    let dump = backup(&app.db.url, dir.path());
    let name = dump
        .file_name()
        .expect("name")
        .to_string_lossy()
        .into_owned();
    assert!(
        name.starts_with("backup_")
            && name.ends_with("Z.dump")
            && name.len() == "backup_20261124T054218Z.dump".len(),
        "{name}"
    );
    let sum = std::fs::read_to_string(with_ext(&dump, ".sha256")).expect("checksum file");
    assert!(sum.ends_with(&format!("  {name}\n")), "{sum}");
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .expect("dir")
        .map(|e| e.expect("e").file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(
        leftovers.is_empty(),
        "no temporary files left: {leftovers:?}"
    );

    let target = TestDb::empty();
    let out = ok(&script(
        "restore.sh",
        &[dump.to_str().expect("p"), &target.url],
        &[],
    ));
    assert!(out.contains("checksum ok"), "{out}");
    for table in ["public.tenants", "public.users", "public.audit_logs"] {
        assert!(out.contains(table), "row counts printed: {out}");
    }
    let original = db_fingerprint(&app.db.url);
    assert!(original["users"].0 >= 4 && original["audit_logs_default"].0 == 1);
    let acme = crate::ops_support::tenant_id(&app.db, "acme").expect("acme");
    assert_every_table_has_rows(&tenant_fingerprint(&app.db, acme));
    assert_eq!(
        db_fingerprint(&target.url),
        original,
        "every table identical"
    );

    // The restored database keeps the third wall: row-level security, policies and the
    // application role's privileges, exactly as the migrations left them.
    let walls = crate::schema_rules::rls_violations(&mut target.conn());
    assert!(walls.is_empty(), "after restore:\n{}", walls.join("\n"));

    // The restored database is a working database: same migrations, the app runs on it.
    assert_eq!(
        target.scalar("SELECT count(*) FROM __diesel_schema_migrations"),
        app.db
            .scalar("SELECT count(*) FROM __diesel_schema_migrations")
    );

    // A second restore into the now non-empty target is refused without --force ...
    let again = script("restore.sh", &[dump.to_str().expect("p"), &target.url], &[]);
    assert!(!again.status.success());
    assert!(stderr(&again).contains("not empty"), "{}", stderr(&again));
    // ... and replaces the schema with it, in one transaction.
    target.exec("DELETE FROM items; CREATE TABLE stray (x int)");
    ok(&script(
        "restore.sh",
        &[dump.to_str().expect("p"), &target.url, "--force"],
        &[],
    ));
    assert_eq!(db_fingerprint(&target.url), original);
    let walls = crate::schema_rules::rls_violations(&mut target.conn());
    assert!(
        walls.is_empty(),
        "after restore --force:\n{}",
        walls.join("\n")
    );
}

#[tokio::test]
async fn a_damaged_or_unverified_backup_restores_nothing() {
    crate::skip_on_citus!(
        "a backup of the whole database is a single-node operation: pg_dump of the coordinator holds no shard data (docs/scaling.md)"
    );
    let app = populated().await;
    let dir = open_tempdir();
    let dump = backup(&app.db.url, dir.path());

    // One byte flipped in the middle of the dump.
    let mut bytes = std::fs::read(&dump).expect("read dump");
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x01;
    let damaged = dir.path().join("damaged.dump");
    std::fs::write(&damaged, &bytes).expect("write");
    std::fs::copy(with_ext(&dump, ".sha256"), with_ext(&damaged, ".sha256")).expect("copy sum");
    let target = TestDb::empty();
    let out = script(
        "restore.sh",
        &[damaged.to_str().expect("p"), &target.url],
        &[],
    );
    assert!(!out.status.success(), "{}", stdout(&out));
    assert!(
        stderr(&out).contains("checksum mismatch"),
        "{}",
        stderr(&out)
    );
    assert_eq!(table_count(&target), 0, "nothing restored");

    // The same with --force into a live database: it stays as it was.
    let before = db_fingerprint(&app.db.url);
    let out = script(
        "restore.sh",
        &[damaged.to_str().expect("p"), &app.db.url, "--force"],
        &[],
    );
    assert!(!out.status.success());
    assert_eq!(db_fingerprint(&app.db.url), before);

    // No checksum at all.
    std::fs::remove_file(with_ext(&damaged, ".sha256")).expect("rm");
    let out = script(
        "restore.sh",
        &[damaged.to_str().expect("p"), &target.url],
        &[],
    );
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("sha256 is missing"),
        "{}",
        stderr(&out)
    );
    assert_eq!(table_count(&target), 0);

    // A truncated dump whose checksum matches (made after the damage): pg_restore fails
    // and its single transaction leaves nothing, with or without --force.
    let cut = std::fs::read(&dump).expect("read");
    let truncated = dir.path().join("truncated.dump");
    std::fs::write(&truncated, &cut[..cut.len() * 2 / 3]).expect("write");
    let sum = ok(&std::process::Command::new("sha256sum")
        .arg(&truncated)
        .output()
        .expect("sha256sum"));
    std::fs::write(with_ext(&truncated, ".sha256"), sum).expect("write sum");
    let out = script(
        "restore.sh",
        &[truncated.to_str().expect("p"), &target.url],
        &[],
    );
    assert!(!out.status.success(), "{}", stdout(&out));
    assert_eq!(table_count(&target), 0);
    let out = script(
        "restore.sh",
        &[truncated.to_str().expect("p"), &app.db.url, "--force"],
        &[],
    );
    assert!(!out.status.success(), "{}", stdout(&out));
    assert_eq!(db_fingerprint(&app.db.url), before);
}

#[test]
fn backup_keeps_the_newest_backups() {
    let db = TestDb::new();
    let dir = open_tempdir();
    for stamp in ["20200101T000000Z", "20210101T000000Z", "20220101T000000Z"] {
        let p = dir.path().join(format!("backup_{stamp}.dump"));
        std::fs::write(&p, b"old").expect("write");
        std::fs::write(with_ext(&p, ".sha256"), b"x").expect("write");
    }
    let out = ok(&script(
        "backup.sh",
        &[],
        &[
            ("DATABASE_URL", &db.url),
            ("BACKUP_DIR", dir.path().to_str().expect("dir")),
            ("BACKUP_KEEP", "2"),
        ],
    ));
    assert!(out.contains("removed old"), "{out}");
    let left = dumps(dir.path());
    assert_eq!(left.len(), 2, "{left:?}");
    assert!(
        left[0].ends_with("backup_20220101T000000Z.dump"),
        "{left:?}"
    );
    assert!(
        !dir.path()
            .join("backup_20200101T000000Z.dump.sha256")
            .exists()
    );
    assert!(with_ext(&left[1], ".sha256").exists());

    let bad = script(
        "backup.sh",
        &[],
        &[
            ("DATABASE_URL", &db.url),
            ("BACKUP_DIR", dir.path().to_str().expect("d")),
            ("BACKUP_KEEP", "0"),
        ],
    );
    assert!(!bad.status.success());
    let unreachable = script(
        "backup.sh",
        &[],
        &[
            ("DATABASE_URL", "postgres://nobody:x@127.0.0.1:1/none"),
            ("BACKUP_DIR", dir.path().to_str().expect("d")),
        ],
    );
    assert!(!unreachable.status.success(), "fails loudly");
    assert_eq!(dumps(dir.path()).len(), 2, "a failed backup leaves no file");
    let hidden = std::fs::read_dir(dir.path())
        .expect("dir")
        .filter(|e| {
            e.as_ref()
                .expect("e")
                .file_name()
                .to_string_lossy()
                .starts_with('.')
        })
        .count();
    assert_eq!(hidden, 0, "no temporary files left");
}

/// Without DATABASE_URL the script holds the private cluster through `tenantry db
/// exec` for as long as the dump takes, and the cluster is stopped afterwards.
#[test]
fn backup_of_the_private_cluster_works_when_it_is_not_running() {
    crate::skip_on_citus!(
        "a backup of the whole database is a single-node operation: pg_dump of the coordinator holds no shard data (docs/scaling.md)"
    );
    let data = open_tempdir();
    let backups = open_tempdir();
    let mut cmd = std::process::Command::new("bash");
    cmd.arg(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/backup.sh"))
        .env_remove("DATABASE_URL")
        .env("TENANTRY_DATA_DIR", data.path())
        .env("TENANTRY_BIN", env!("CARGO_BIN_EXE_tenantry"))
        .env("BACKUP_DIR", backups.path())
        .env("RUST_LOG", "warn");
    let out = ok(&cmd.output().expect("run backup.sh"));
    assert!(out.contains("backup: wrote"), "{out}");
    assert_eq!(dumps(backups.path()).len(), 1);
    let pid_file = data.path().join("postgres").join("postmaster.pid");
    assert!(
        !pid_file.exists(),
        "the cluster started for the backup is stopped"
    );
    // The dump is of the private cluster's (empty) application database.
    let target = TestDb::empty();
    let dump = dumps(backups.path()).pop().expect("dump");
    ok(&script(
        "restore.sh",
        &[dump.to_str().expect("p"), &target.url],
        &[],
    ));
    assert!(all_tables(&mut target.conn()).is_empty());
}

/// Wrappers for the PostgreSQL client tools that log their command lines.
fn logging_bindir(real: &str, log: &Path) -> tempfile::TempDir {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("dir");
    for tool in ["pg_dump", "pg_restore", "psql"] {
        let path = dir.path().join(tool);
        std::fs::write(
            &path,
            format!(
                "#!/bin/sh\nprintf '%s\\n' \"$*\" >> '{}'\nexec '{real}/{tool}' \"$@\"\n",
                log.display()
            ),
        )
        .expect("wrapper");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    dir
}

#[tokio::test]
async fn backups_are_private_and_no_password_reaches_a_command_line() {
    crate::skip_on_citus!(
        "backs up and restores a whole database, which Citus metadata ties to its cluster"
    );
    use std::os::unix::fs::MetadataExt;
    let app = TestApp::new().await;
    let t = app.tenant("private").await;
    let _ = t;
    let url = app.db.url.clone();
    // The URL must carry a password for this test to mean anything.
    let with_password = if url.contains(":")
        && url
            .split('@')
            .next()
            .is_some_and(|a| a.matches(':').count() >= 2)
    {
        url.clone()
    } else {
        url.replacen("://", "://postgres:unused-but-secret@", 1)
    };
    let password = with_password
        .split("://")
        .nth(1)
        .and_then(|r| r.split('@').next())
        .and_then(|a| a.split_once(':'))
        .map(|(_, p)| p.to_string())
        .expect("password");
    let real = String::from_utf8(
        std::process::Command::new("bash")
            .args(["-c", "source scripts/lib.sh && pg_bindir"])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .expect("pg_bindir")
            .stdout,
    )
    .expect("utf8")
    .trim()
    .to_string();
    let work = open_tempdir();
    let log = work.path().join("argv.log");
    let bindir = logging_bindir(&real, &log);
    let backups = work.path().join("backups");
    let out = ok(&script(
        "backup.sh",
        &[],
        &[
            ("DATABASE_URL", &with_password),
            ("BACKUP_DIR", backups.to_str().expect("dir")),
            ("PG_BINDIR", bindir.path().to_str().expect("dir")),
        ],
    ));
    assert!(out.contains("backup: wrote"), "{out}");
    let argv = std::fs::read_to_string(&log).expect("the tools ran");
    assert!(
        argv.contains("pg_dump") || argv.contains("--format=custom"),
        "{argv}"
    );
    assert!(
        !argv.contains(&password),
        "a password on a command line: {argv}"
    );
    assert_eq!(
        std::fs::metadata(&backups).expect("dir").mode() & 0o777,
        0o700
    );
    let dump = dumps(&backups).pop().expect("a dump");
    for f in [dump.clone(), with_ext(&dump, ".sha256")] {
        assert_eq!(
            std::fs::metadata(&f).expect("file").mode() & 0o777,
            0o600,
            "{}",
            f.display()
        );
    }
    // Restore too: the target URL's password stays off the tools' command lines.
    std::fs::write(&log, "").expect("truncate");
    let target = TestDb::empty();
    let target_url = if with_password == url {
        target.url.clone()
    } else {
        target
            .url
            .replacen("://", "://postgres:unused-but-secret@", 1)
    };
    ok(&script(
        "restore.sh",
        &[dump.to_str().expect("path"), &target_url],
        &[("PG_BINDIR", bindir.path().to_str().expect("dir"))],
    ));
    let argv = std::fs::read_to_string(&log).expect("log");
    assert!(!argv.is_empty());
    assert!(
        !argv.contains(&password),
        "a password on a command line: {argv}"
    );
}
