//! The container files at the repository root: `docker-compose.yml` is valid under the
//! Compose specification (checked with check-jsonschema, installed from PyPI on first
//! use; if it cannot be installed the test fails, it never skips), and the Dockerfile
//! only copies what the build context has.

use std::path::Path;
use std::process::Command;

use crate::ops_support::{ok, stderr, stdout};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn check_compose(file: &Path) -> std::process::Output {
    Command::new("bash")
        .arg(root().join("scripts/check-compose.sh"))
        .arg(file)
        .output()
        .expect("run check-compose.sh")
}

#[test]
fn compose_file_is_valid_under_the_compose_spec() {
    let out = ok(&check_compose(&root().join("docker-compose.yml")));
    assert!(out.contains("validation done"), "{out}");

    // The checker is live: a broken copy fails.
    let text = std::fs::read_to_string(root().join("docker-compose.yml")).expect("read");
    let dir = crate::harness::open_tempdir();
    let broken = dir.path().join("docker-compose.yml");
    std::fs::write(
        &broken,
        text.replace("condition: service_healthy", "condition: when_ready"),
    )
    .expect("write");
    let out = check_compose(&broken);
    assert!(!out.status.success(), "{}{}", stdout(&out), stderr(&out));
}

#[test]
fn compose_file_wires_health_checks_and_secrets() {
    let text = std::fs::read_to_string(root().join("docker-compose.yml")).expect("read");
    for needle in [
        "image: postgres:15",
        "pg_isready",
        "/health/ready",
        r#"["CMD", "tenantry", "healthcheck"]"#,
        "condition: service_healthy",
        "${JWT_SECRET:?",
        "${DATABASE_URL:?",
        "${POSTGRES_PASSWORD:?",
        "pgdata:/var/lib/postgresql/data",
    ] {
        assert!(text.contains(needle), "docker-compose.yml lacks {needle}");
    }
}

#[test]
fn dockerfile_copies_only_what_the_context_has_and_runs_as_a_user() {
    let text = std::fs::read_to_string(root().join("Dockerfile")).expect("Dockerfile");
    let ignored = std::fs::read_to_string(root().join(".dockerignore")).expect(".dockerignore");
    let ignored: Vec<&str> = ignored
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| l.trim_end_matches('/'))
        .collect();
    let mut copies = 0;
    for line in text
        .lines()
        .filter(|l| l.starts_with("COPY ") && !l.contains("--from"))
    {
        let words: Vec<&str> = line.split_whitespace().collect();
        for src in &words[1..words.len() - 1] {
            copies += 1;
            assert!(root().join(src).exists(), "COPY {src}: no such path");
            assert!(
                !ignored.contains(src),
                "COPY {src}: excluded by .dockerignore"
            );
        }
    }
    assert!(
        copies >= 4,
        "copies the manifest, lock file, sources and migrations"
    );
    assert!(
        ignored.contains(&"target"),
        ".dockerignore keeps target/ out"
    );
    assert_eq!(
        text.matches("\nFROM ").count() + usize::from(text.starts_with("FROM ")),
        2,
        "two stages"
    );
    assert!(
        text.contains("libpq-dev") && text.contains("libpq5") && text.contains("ca-certificates")
    );
    let user = text
        .lines()
        .rfind(|l| l.starts_with("USER "))
        .expect("a USER line");
    assert!(!user.contains("root") && !user.contains(" 0"), "{user}");
    assert!(text.contains("HEALTHCHECK") && text.contains(r#"CMD ["tenantry", "healthcheck"]"#));
    assert!(
        text.lines()
            .filter(|l| !l.trim_start().starts_with('#'))
            .all(|l| !l.contains("curl")),
        "the image needs no curl"
    );
}

#[test]
fn compose_splits_the_database_roles() {
    let text = std::fs::read_to_string(root().join("docker-compose.yml")).expect("read");
    for needle in [
        "${MIGRATION_DATABASE_URL:?",
        "${TENANTRY_OWNER_PASSWORD:?",
        "${TENANTRY_APP_PASSWORD:?",
        "./deploy/postgres/initdb:/docker-entrypoint-initdb.d:ro",
        "tenantry_api:PASSWORD@db",
        "tenantry_owner:PASSWORD@db",
    ] {
        assert!(text.contains(needle), "docker-compose.yml lacks {needle}");
    }
}

/// The compose init script, run as the postgres image runs it (superuser, psql on the
/// server), makes roles with which the owner migrates and the server's login is held to
/// row-level security.
#[test]
fn the_compose_init_script_makes_a_working_role_split() {
    use diesel::connection::SimpleConnection;
    use diesel::prelude::*;

    crate::skip_on_citus!(
        "compose runs one PostgreSQL: the init script is tried on an empty database, which \
         has no Citus metadata"
    );
    let db = crate::harness::TestDb::empty();
    // postgres://user:password@host:port/db
    let (_, rest) = db.url.split_once("://").expect("scheme");
    let (auth, location) = rest.split_once('@').expect("auth");
    let (user, password) = auth.split_once(':').expect("password");
    let (hostport, _) = location.split_once('/').expect("db");
    let (host, port) = hostport.split_once(':').expect("port");
    // The private cluster has its own tenantry_api login already; leave it if so.
    let api_existed =
        db.scalar("SELECT count(*) FROM pg_roles WHERE rolname = 'tenantry_api'") == 1;
    let out = Command::new("bash")
        .arg(root().join("deploy/postgres/initdb/10-tenantry-roles.sh"))
        .envs([
            ("PGHOST", host),
            ("PGPORT", port),
            ("PGPASSWORD", password),
            ("POSTGRES_USER", user),
            ("POSTGRES_DB", db.name.as_str()),
            ("TENANTRY_OWNER_PASSWORD", "owner-pw-'quoted"),
            ("TENANTRY_APP_PASSWORD", "app-pw"),
        ])
        .output()
        .expect("run the init script");
    let cleanup = |db: &crate::harness::TestDb| {
        let _ = db.conn().batch_execute(
            "REASSIGN OWNED BY tenantry_owner TO CURRENT_USER; DROP OWNED BY tenantry_owner;
             DROP OWNED BY tenantry_api;",
        );
    };
    if !out.status.success() {
        cleanup(&db);
        panic!("init script failed: {}{}", stdout(&out), stderr(&out));
    }
    let owner_url = crate::harness::with_login(&db.url, "tenantry_owner", "owner-pw-'quoted");
    let api_url = crate::harness::with_login(&db.url, "tenantry_api", "app-pw");
    let migrated = PgConnection::establish(&owner_url)
        .map_err(|e| e.to_string())
        .and_then(|mut c| tenantry::db::migrations::run_pending(&mut c).map_err(|e| e.to_string()));
    let api_sees = PgConnection::establish(&api_url)
        .map_err(|e| e.to_string())
        .and_then(|mut c| {
            c.batch_execute("SET ROLE tenantry_app; SELECT count(*) FROM tasks")
                .map_err(|e| e.to_string())
        });
    cleanup(&db);
    let (head, _) = db.url.rsplit_once('/').expect("db");
    let mut admin = PgConnection::establish(&format!("{head}/postgres")).expect("admin");
    drop(db);
    let drop = if api_existed {
        "DROP ROLE tenantry_owner;"
    } else {
        "DROP ROLE tenantry_owner; DROP ROLE tenantry_api;"
    };
    admin.batch_execute(drop).expect("drop the compose roles");
    migrated.expect("the owner migrates");
    api_sees.expect("the server's login switches to tenantry_app and reads");
}
