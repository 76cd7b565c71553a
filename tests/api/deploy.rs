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
