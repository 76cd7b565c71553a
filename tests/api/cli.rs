//! The command line and the scripts as a shell user meets them: `.env`, `.env.example`
//! and `serve --help` against the one table of variables, shell completions and the man
//! page, `tenantry healthcheck`, and every script's `-h`/`--help`
//! (tests/shell/scripts_help.sh).

use std::path::Path;
use std::process::{Command, Output, Stdio};

use tenantry::auth::jwt::JwtKeys;
use tenantry::env_vars::ENV_VARS;

use crate::harness::{JWT_SECRET, TestDb, open_tempdir};
use crate::ops_support::{ok, stderr, stdout};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The binary with no configuration from this process's environment.
fn bare(dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tenantry"));
    cmd.current_dir(dir);
    for v in ENV_VARS {
        cmd.env_remove(v.name);
    }
    cmd.env("RUST_LOG", "error");
    cmd
}

fn mint(cmd: &mut Command) -> Output {
    cmd.args(["token", "--platform-admin"])
        .output()
        .expect("run tenantry token")
}

#[test]
fn dotenv_fills_in_what_the_environment_does_not_set() {
    let dir = open_tempdir();
    let from_file = "dotenv-secret-0123456789abcdef-0123456789";
    std::fs::write(
        dir.path().join(".env"),
        format!(
            "# a comment\nDATABASE_URL=postgres://nobody@127.0.0.1:1/none\nJWT_SECRET={from_file}\n"
        ),
    )
    .expect("write .env");
    let token = ok(&mint(&mut bare(dir.path())));
    JwtKeys::new(from_file.as_bytes())
        .verify(token.trim())
        .expect("signed with the .env secret");

    // The environment wins over the file.
    let token = ok(&mint(bare(dir.path()).env("JWT_SECRET", JWT_SECRET)));
    JwtKeys::new(JWT_SECRET.as_bytes())
        .verify(token.trim())
        .expect("signed with the environment's secret");
    assert!(
        JwtKeys::new(from_file.as_bytes())
            .verify(token.trim())
            .is_err()
    );

    // Without .env (and DATABASE_URL set), a missing secret is still an error.
    let empty = open_tempdir();
    let out = mint(bare(empty.path()).env("DATABASE_URL", "postgres://x@127.0.0.1:1/x"));
    assert!(!out.status.success());
    assert!(stderr(&out).contains("JWT_SECRET"), "{}", stderr(&out));

    // A broken .env is an error, not a silently different configuration.
    std::fs::write(dir.path().join(".env"), "JWT_SECRET='unterminated\n").expect("write");
    let out = mint(&mut bare(dir.path()));
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains(".env"), "{}", stderr(&out));
}

/// The `NAME` of every `get("NAME")` / `parse_or(&get, "NAME", ...)` in a source file.
fn names_read_in(source: &str) -> Vec<String> {
    let mut names = Vec::new();
    for marker in ["get(\"", "&get, \""] {
        for (i, _) in source.match_indices(marker) {
            let rest = &source[i + marker.len()..];
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_uppercase() || *c == '_' || c.is_ascii_digit())
                .collect();
            if rest[name.len()..].starts_with('"') && !name.is_empty() {
                names.push(name);
            }
        }
    }
    names
}

#[test]
fn every_variable_is_in_serve_help_env_example_and_the_readme() {
    let known: Vec<&str> = ENV_VARS.iter().map(|v| v.name).collect();
    let config = std::fs::read_to_string(root().join("src/config.rs")).expect("config.rs");
    let read = names_read_in(&config);
    assert!(read.len() >= 10, "{read:?}");
    for name in &read {
        assert!(
            known.contains(&name.as_str()),
            "config.rs reads {name}, which env_vars.rs lacks"
        );
    }

    let help = ok(&bare(root())
        .args(["serve", "--help"])
        .output()
        .expect("help"));
    let example = std::fs::read_to_string(root().join(".env.example")).expect(".env.example");
    for v in ENV_VARS {
        assert!(
            help.lines().any(|l| l.trim_start().starts_with(v.name)
                && l.contains(&format!("[default: {}]", v.default))),
            "serve --help lacks {} with its default:\n{help}",
            v.name
        );
        let literal = if v.default == "unset" || v.default.contains(' ') {
            ""
        } else {
            v.default
        };
        assert!(
            example
                .lines()
                .any(|l| l == format!("#{}={literal}", v.name)),
            ".env.example lacks #{}={literal}",
            v.name
        );
    }
    // .env.example is itself a valid .env that sets nothing.
    let parsed: Vec<_> = dotenvy::from_path_iter(root().join(".env.example"))
        .expect(".env.example parses")
        .collect::<Result<_, _>>()
        .expect(".env.example parses");
    assert!(parsed.is_empty(), "{parsed:?}");

    // Every variable in the README's configuration table is in the list.
    let readme = std::fs::read_to_string(root().join("README.md")).expect("README");
    let table = readme
        .split("## Configuration")
        .nth(1)
        .expect("a Configuration section");
    for line in table.lines().take_while(|l| !l.starts_with("## ")) {
        let Some(first) = line.strip_prefix("| ").and_then(|l| l.split(" |").next()) else {
            continue;
        };
        for name in first
            .split(", ")
            .filter_map(|n| n.strip_prefix('`')?.strip_suffix('`'))
        {
            assert!(
                known.contains(&name),
                "README names {name}, which env_vars.rs lacks"
            );
        }
    }
}

#[test]
fn completions_load_in_bash_and_the_man_page_lists_the_commands() {
    let dir = open_tempdir();
    let script = ok(&bare(dir.path())
        .args(["completions", "bash"])
        .output()
        .expect("run"));
    let file = dir.path().join("tenantry.bash");
    std::fs::write(&file, &script).expect("write");
    let out = ok(&Command::new("bash")
        .arg("-c")
        .arg(format!("source {} && complete -p tenantry", file.display()))
        .output()
        .expect("bash"));
    assert!(out.contains("tenantry"), "{out}");
    assert!(script.contains("healthcheck") && script.contains("completions"));
    for shell in ["zsh", "fish"] {
        let out = ok(&bare(dir.path())
            .args(["completions", shell])
            .output()
            .expect("run"));
        assert!(out.contains("healthcheck"), "{shell}: {out}");
    }
    let out = bare(dir.path())
        .args(["completions", "tcsh"])
        .output()
        .expect("run");
    assert!(!out.status.success());

    let man = ok(&bare(dir.path()).arg("man").output().expect("run"));
    assert!(man.starts_with(".ie") || man.starts_with(".TH"), "{man}");
    assert!(man.contains(".TH tenantry"), "{man}");
    for sub in [
        "serve",
        "migrate",
        "seed",
        "tenant",
        "healthcheck",
        "completions",
    ] {
        assert!(man.contains(sub), "man page lacks {sub}");
    }
}

/// A loopback HTTP server that answers every request with `status`.
async fn answering(status: u16) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let code = axum::http::StatusCode::from_u16(status).expect("status");
    let app = axum::Router::new().fallback(move || async move { code });
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

async fn healthcheck(bind: &str) -> Output {
    let bind = bind.to_string();
    let dir = open_tempdir();
    tokio::task::spawn_blocking(move || {
        bare(dir.path())
            .arg("healthcheck")
            .env("BIND_ADDR", bind)
            .stdout(Stdio::piped())
            .output()
            .expect("run healthcheck")
    })
    .await
    .expect("join")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthcheck_exit_status_follows_health_ready() {
    let db = tokio::task::spawn_blocking(TestDb::new).await.expect("db");
    let server = crate::tcp::spawn_server_with(&db.url, &[], Stdio::null()).await;
    let port = server.base.rsplit(':').next().expect("port").to_string();
    let out = healthcheck(&format!("0.0.0.0:{port}")).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).is_empty());

    let unavailable = answering(503).await;
    let out = healthcheck(&unavailable.to_string()).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("503"), "{}", stderr(&out));

    drop(server);
    let out = healthcheck(&format!("127.0.0.1:{port}")).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("cannot connect"), "{}", stderr(&out));
}

#[test]
fn every_script_answers_help_and_does_nothing_else() {
    let checker = root().join("tests/shell/scripts_help.sh");
    let out = ok(&Command::new("bash")
        .arg(&checker)
        .output()
        .expect("run checker"));
    assert!(out.starts_with("ok: "), "{out}");
    let count: usize = std::fs::read_dir(root().join("scripts"))
        .expect("scripts")
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "sh"))
        })
        .count();
    assert!(out.contains(&format!("ok: {count} scripts")), "{out}");

    // The checker can fail: a script that builds on --help is caught.
    let dir = open_tempdir();
    let bad = dir.path().join("bad.sh");
    std::fs::write(
        &bad,
        "#!/usr/bin/env bash\n# Usage: bad.sh\ncargo build --release\n",
    )
    .expect("write");
    let out = Command::new("bash")
        .arg(&checker)
        .arg(&bad)
        .output()
        .expect("run checker");
    assert!(!out.status.success());
    assert!(stdout(&out).contains("ran cargo build"), "{}", stdout(&out));
}
