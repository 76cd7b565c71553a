//! The private PostgreSQL cluster used when no `DATABASE_URL` is given (docs/API.md §11).
//!
//! Finds the machine's server binaries, runs `initdb` once (a cluster already in the
//! data directory is reused), starts `postgres` on loopback with its own socket
//! directory and a free port, waits until it answers, creates the `tenantry` database,
//! and stops the server when the handle is dropped.
//!
//! PostgreSQL refuses to run as root, so as root `initdb` and `postgres` run as the
//! `postgres` OS user. That user must be able to reach the data directory; a checkout
//! under a private home cannot be reached, so we detect it and fall back to a
//! directory under the system temp directory, and log where.
//!
//! `postgres` is started as a direct child in its own process group (so a terminal's
//! Ctrl-C reaches only us, and we shut it down after draining requests), with
//! `PR_SET_PDEATHSIG` so it shuts down even if this process is killed outright.

use std::fs;
use std::io::{Read, Seek, SeekFrom};
use std::net::{Ipv4Addr, SocketAddrV4, TcpListener, TcpStream};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use diesel::{Connection, RunQueryDsl, pg::PgConnection};

/// Name of the application database inside the private cluster.
pub const DATABASE_NAME: &str = "tenantry";
/// Superuser created by `initdb`: the owner of the tables (it runs the migrations) and
/// the platform path's login.
const SUPERUSER: &str = "postgres";
/// The login of the server's tenant pool: a member of the application role
/// (`tenantry_app`) and nothing else, so tenant connections never even log in with
/// more privilege than tenant requests need. Same password as the superuser.
pub const APP_LOGIN: &str = "tenantry_api";
/// How long to wait for a starting server to accept connections.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// Why the private cluster could not be started.
#[derive(Debug, thiserror::Error)]
pub enum EmbeddedError {
    #[error(
        "PostgreSQL server binaries (initdb, postgres) were not found. Install them with \
         `sudo apt-get install -y postgresql` (Debian/Ubuntu), or set DATABASE_URL to an existing server"
    )]
    BinariesNotFound,
    #[error("running as root, but there is no `postgres` OS user to run PostgreSQL as: {0}")]
    NoPostgresUser(String),
    #[error("{context}: {source}")]
    Io {
        context: String,
        source: std::io::Error,
    },
    #[error("{0}")]
    Failed(String),
}

fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> EmbeddedError {
    let context = context.into();
    move |source| EmbeddedError::Io { context, source }
}

/// The OS identity PostgreSQL runs under when we are root.
#[derive(Debug, Clone, Copy)]
struct RunAs {
    uid: u32,
    gid: u32,
}

/// How to start the server.
#[derive(Debug, Clone)]
pub struct StartOptions {
    /// Listen on this port (a restarted cluster keeps the address its clients know);
    /// `None` picks a free one.
    pub port: Option<u16>,
    /// `false` turns off fsync and full-page writes: for throw-away test clusters only.
    pub durable: bool,
}

impl Default for StartOptions {
    fn default() -> Self {
        StartOptions {
            port: None,
            durable: true,
        }
    }
}

/// Settings for a throw-away cluster whose data need not survive a crash.
const NOT_DURABLE: [&str; 6] = [
    "-c",
    "fsync=off",
    "-c",
    "synchronous_commit=off",
    "-c",
    "full_page_writes=off",
];

/// A running private cluster. Dropping it stops the server if this process started it.
#[derive(Debug)]
pub struct PrivateCluster {
    cluster_dir: PathBuf,
    port: u16,
    password: String,
    child: Option<Child>,
}

impl PrivateCluster {
    /// Starts (or joins) the cluster kept under `data_root/postgres` and makes sure the
    /// `tenantry` database exists.
    pub fn start(data_root: &Path) -> Result<Self, EmbeddedError> {
        Self::start_with(data_root, &StartOptions::default())
    }

    /// As [`start`](Self::start), with options.
    pub fn start_with(data_root: &Path, options: &StartOptions) -> Result<Self, EmbeddedError> {
        let bindir = find_bindir().ok_or(EmbeddedError::BinariesNotFound)?;
        let run_as = if is_root() {
            Some(postgres_user()?)
        } else {
            None
        };
        let base = reachable_base(data_root, run_as)?;
        let cluster_dir = base.join("postgres");
        let password = cluster_password(&base)?;

        if !cluster_dir.join("PG_VERSION").exists() {
            init_cluster(&bindir, &cluster_dir, &password, run_as)?;
        }

        let mut cluster = match running_port(&cluster_dir) {
            // Another process (an earlier `tenantry serve`, say) runs this cluster: use it
            // and leave it running when we exit.
            Some(port) => PrivateCluster {
                cluster_dir,
                port,
                password,
                child: None,
            },
            None => start_server(&bindir, &base, cluster_dir, password, run_as, options)?,
        };
        cluster.create_database(DATABASE_NAME)?;
        cluster.ensure_roles()?;
        Ok(cluster)
    }

    /// Creates the application role (as the migrations would) and the tenant pool's
    /// login [`APP_LOGIN`], a member of it, unless they exist; sets the login's password.
    fn ensure_roles(&self) -> Result<(), EmbeddedError> {
        let mut conn = PgConnection::establish(&self.url_for("postgres")).map_err(|e| {
            EmbeddedError::Failed(format!("connecting to the private cluster: {e}"))
        })?;
        // The password is hex digits (cluster_password), so it can be inlined.
        let sql = format!(
            "DO $$ BEGIN
                 BEGIN
                     CREATE ROLE {app} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS NOREPLICATION;
                 EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
                 END;
                 BEGIN
                     CREATE ROLE {APP_LOGIN} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS NOREPLICATION;
                 EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
                 END;
             END $$;
             ALTER ROLE {APP_LOGIN} PASSWORD '{password}';
             GRANT {app} TO {APP_LOGIN};",
            app = super::pool::APP_ROLE,
            password = self.password,
        );
        diesel::connection::SimpleConnection::batch_execute(&mut conn, &sql)
            .map_err(|e| EmbeddedError::Failed(format!("creating the database roles: {e}")))
    }

    /// URL of the application database for the tenant pool's login [`APP_LOGIN`].
    pub fn app_url(&self) -> String {
        format!(
            "postgres://{APP_LOGIN}:{}@127.0.0.1:{}/{DATABASE_NAME}",
            self.password, self.port
        )
    }

    /// URL of database `db` in this cluster, as the superuser.
    pub fn url_for(&self, db: &str) -> String {
        format!(
            "postgres://{SUPERUSER}:{}@127.0.0.1:{}/{db}",
            self.password, self.port
        )
    }

    /// URL of the application database.
    pub fn url(&self) -> String {
        self.url_for(DATABASE_NAME)
    }

    /// The TCP port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Where the cluster's files are.
    pub fn cluster_dir(&self) -> &Path {
        &self.cluster_dir
    }

    /// Creates database `name` unless it exists.
    pub fn create_database(&mut self, name: &str) -> Result<(), EmbeddedError> {
        let mut conn = PgConnection::establish(&self.url_for("postgres")).map_err(|e| {
            EmbeddedError::Failed(format!("connecting to the private cluster: {e}"))
        })?;
        let exists: i64 =
            diesel::dsl::select(diesel::dsl::sql::<diesel::sql_types::BigInt>(&format!(
                "(SELECT count(*) FROM pg_database WHERE datname = '{}')",
                name.replace('\'', "''")
            )))
            .get_result(&mut conn)
            .map_err(|e| EmbeddedError::Failed(format!("checking for database {name}: {e}")))?;
        if exists == 0 {
            diesel::sql_query(format!("CREATE DATABASE \"{}\"", name.replace('"', "\"\"")))
                .execute(&mut conn)
                .map_err(|e| EmbeddedError::Failed(format!("creating database {name}: {e}")))?;
        }
        Ok(())
    }

    /// Stops the server if this process started it: a fast shutdown (SIGINT), then an
    /// immediate one (SIGQUIT) if it has not exited after 30 s.
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let pid = child.id() as libc::pid_t;
        // SAFETY: plain kill(2) on the pid of our own child process.
        unsafe { libc::kill(pid, libc::SIGINT) };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            match child.try_wait() {
                Ok(Some(_)) | Err(_) => break,
                Ok(None) if Instant::now() >= deadline => {
                    // SAFETY: as above.
                    unsafe { libc::kill(pid, libc::SIGQUIT) };
                    let _ = child.wait();
                    break;
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            }
        }
        tracing::info!(dir = %self.cluster_dir.display(), "private PostgreSQL stopped");
    }
}

impl Drop for PrivateCluster {
    fn drop(&mut self) {
        self.stop();
    }
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// `pg_config --bindir`, else the highest `/usr/lib/postgresql/*/bin`, else `PATH`.
fn find_bindir() -> Option<PathBuf> {
    let has_server = |dir: &Path| dir.join("initdb").is_file() && dir.join("postgres").is_file();
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output() {
        let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if out.status.success() && has_server(&dir) {
            return Some(dir);
        }
    }
    let mut versions: Vec<(u32, PathBuf)> = fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_string_lossy().parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            has_server(&bin).then_some((version, bin))
        })
        .collect();
    versions.sort();
    if let Some((_, dir)) = versions.pop() {
        return Some(dir);
    }
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .find(|dir| has_server(dir))
}

/// The bin directory of the server binaries, for tools that sit beside them (pg_dump).
pub fn server_bindir() -> Option<PathBuf> {
    find_bindir()
}

fn postgres_user() -> Result<RunAs, EmbeddedError> {
    let name =
        std::ffi::CString::new(SUPERUSER).map_err(|e| EmbeddedError::Failed(e.to_string()))?;
    // SAFETY: getpwnam with a valid C string; the result is read immediately, before any
    // other call that could reuse its static buffer.
    let pw = unsafe { libc::getpwnam(name.as_ptr()) };
    if pw.is_null() {
        return Err(EmbeddedError::NoPostgresUser(
            "create it with `apt-get install -y postgresql` or `useradd --system postgres`".into(),
        ));
    }
    // SAFETY: pw is non-null and points at a valid passwd record.
    let (uid, gid) = unsafe { ((*pw).pw_uid, (*pw).pw_gid) };
    Ok(RunAs { uid, gid })
}

/// A command that runs as the postgres user when we are root.
fn command(program: &Path, run_as: Option<RunAs>) -> Command {
    let mut cmd = Command::new(program);
    if let Some(user) = run_as {
        // std also drops root's supplementary groups when it switches uid.
        cmd.uid(user.uid).gid(user.gid);
    }
    cmd
}

/// Returns the directory that holds the cluster: `data_root` itself when the server's
/// OS user can reach it, else a per-checkout directory under the system temp directory.
fn reachable_base(data_root: &Path, run_as: Option<RunAs>) -> Result<PathBuf, EmbeddedError> {
    fs::create_dir_all(data_root).map_err(io(format!("creating {}", data_root.display())))?;
    let data_root = data_root
        .canonicalize()
        .map_err(io(format!("resolving {}", data_root.display())))?;
    let Some(user) = run_as else {
        return Ok(data_root);
    };
    if can_enter(&data_root, user) {
        return Ok(data_root);
    }
    // A stable name per checkout, so the fallback cluster is reused across runs.
    let digest = {
        use sha2::Digest;
        let hash = sha2::Sha256::digest(data_root.to_string_lossy().as_bytes());
        hash.iter()
            .take(6)
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    };
    let fallback = std::env::temp_dir().join(format!("tenantry-{digest}"));
    prepare_fallback(&fallback)?;
    tracing::warn!(
        wanted = %data_root.display(),
        using = %fallback.display(),
        "the postgres OS user cannot reach the data directory; keeping the private cluster elsewhere"
    );
    Ok(fallback)
}

/// Creates the fallback directory, or accepts an existing one only if it is ours.
///
/// Its name is predictable (so the cluster is found again on the next run), so a local
/// user could create it first, as a directory of their own or a symlink, and plant a
/// `pg_password` of their choosing. The directory is therefore created with `mkdir`
/// (which never follows a symlink) at mode 0711, and an existing one is used only when
/// it is a real directory (not a symlink), owned by this user, and writable by nobody
/// else; anything else is refused.
pub fn prepare_fallback(dir: &Path) -> Result<(), EmbeddedError> {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt};
    match fs::DirBuilder::new().mode(0o711).create(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(io(format!("creating {}", dir.display()))(e)),
    }
    let meta = fs::symlink_metadata(dir).map_err(io(format!("inspecting {}", dir.display())))?;
    // SAFETY: geteuid has no preconditions.
    let me = unsafe { libc::geteuid() };
    let refused = |why: &str| {
        Err(EmbeddedError::Failed(format!(
            "refusing {} as the private cluster's directory: {why}",
            dir.display()
        )))
    };
    if meta.file_type().is_symlink() || !meta.is_dir() {
        return refused("it is not a plain directory");
    }
    if meta.uid() != me {
        return refused("it belongs to another user");
    }
    if meta.mode() & 0o022 != 0 {
        return refused("others can write to it");
    }
    // Root owns it; the postgres user may only traverse it into its own cluster directory.
    fs::set_permissions(dir, fs::Permissions::from_mode(0o711))
        .map_err(io(format!("setting permissions on {}", dir.display())))
}

/// Whether `user` can traverse every directory down to `dir` (checked by running
/// `test -x` as that user, which is what the kernel will decide too).
fn can_enter(dir: &Path, user: RunAs) -> bool {
    command(Path::new("/usr/bin/test"), Some(user))
        .arg("-x")
        .arg(dir)
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// The superuser password of the cluster, generated once and kept beside it (mode 600).
fn cluster_password(base: &Path) -> Result<String, EmbeddedError> {
    let file = base.join("pg_password");
    if let Some(existing) = read_private(&file)? {
        let existing = existing.trim().to_string();
        if !existing.is_empty() {
            return Ok(existing);
        }
    }
    let password = random_hex(24);
    write_private(&file, &password)?;
    Ok(password)
}

/// Random hex string of `bytes` random bytes.
pub fn random_hex(bytes: usize) -> String {
    use rand::RngCore;
    let mut buf = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut buf);
    buf.iter().map(|b| format!("{b:02x}")).collect()
}

/// Reads a secret file written by [`write_private`]: `None` when there is none; an
/// error when it is a symlink, belongs to another user or others may read it (a
/// planted secret is never used).
pub fn read_private(path: &Path) -> Result<Option<String>, EmbeddedError> {
    use std::io::Read;
    use std::os::unix::fs::MetadataExt;
    let mut f = match fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io(format!("opening {}", path.display()))(e)),
    };
    let meta = f
        .metadata()
        .map_err(io(format!("inspecting {}", path.display())))?;
    // SAFETY: geteuid has no preconditions.
    let me = unsafe { libc::geteuid() };
    if !meta.is_file() || meta.uid() != me || meta.mode() & 0o077 != 0 {
        return Err(EmbeddedError::Failed(format!(
            "refusing the secret file {}: not a private file of this user",
            path.display()
        )));
    }
    let mut contents = String::new();
    f.read_to_string(&mut contents)
        .map_err(io(format!("reading {}", path.display())))?;
    Ok(Some(contents))
}

/// Writes a secret file readable by its owner only: to a fresh temporary name (created
/// exclusively, never through a symlink), then renamed, so a crash never leaves a
/// half-written secret and nothing planted at the temporary name is written through.
pub fn write_private(path: &Path, contents: &str) -> Result<(), EmbeddedError> {
    let tmp = path.with_extension(format!("tmp-{}", random_hex(6)));
    {
        use std::io::Write;
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .custom_flags(libc::O_NOFOLLOW)
            .mode(0o600)
            .open(&tmp)
            .map_err(io(format!("writing {}", tmp.display())))?;
        f.write_all(contents.as_bytes())
            .map_err(io(format!("writing {}", tmp.display())))?;
        f.sync_all()
            .map_err(io(format!("syncing {}", tmp.display())))?;
    }
    fs::rename(&tmp, path).map_err(io(format!("renaming {}", tmp.display())))
}

fn init_cluster(
    bindir: &Path,
    cluster_dir: &Path,
    password: &str,
    run_as: Option<RunAs>,
) -> Result<(), EmbeddedError> {
    tracing::info!(dir = %cluster_dir.display(), "initialising the private PostgreSQL cluster");
    fs::create_dir_all(cluster_dir).map_err(io(format!("creating {}", cluster_dir.display())))?;
    fs::set_permissions(cluster_dir, fs::Permissions::from_mode(0o700)).map_err(io(format!(
        "setting permissions on {}",
        cluster_dir.display()
    )))?;
    // initdb reads the password from a file the server's user can read; it is removed
    // right after.
    let pwfile = std::env::temp_dir().join(format!("tenantry-pw-{}", random_hex(8)));
    write_private(&pwfile, password)?;
    if let Some(user) = run_as {
        chown(cluster_dir, user)?;
        chown(&pwfile, user)?;
    }
    let output = command(&bindir.join("initdb"), run_as)
        .arg("-D")
        .arg(cluster_dir)
        .args(["-U", SUPERUSER, "-E", "UTF8", "--no-locale", "--no-sync"])
        .args(["--auth=scram-sha-256"])
        .arg(format!("--pwfile={}", pwfile.display()))
        .output();
    let _ = fs::remove_file(&pwfile);
    let output = output.map_err(io("running initdb"))?;
    if !output.status.success() {
        return Err(EmbeddedError::Failed(format!(
            "initdb failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    Ok(())
}

fn chown(path: &Path, user: RunAs) -> Result<(), EmbeddedError> {
    std::os::unix::fs::chown(path, Some(user.uid), Some(user.gid))
        .map_err(io(format!("chown {}", path.display())))
}

/// The port of a server already running on `cluster_dir`, read from `postmaster.pid`
/// (line 1: pid, line 4: port), if that process is alive and answers on the port.
fn running_port(cluster_dir: &Path) -> Option<u16> {
    let pidfile = fs::read_to_string(cluster_dir.join("postmaster.pid")).ok()?;
    let mut lines = pidfile.lines();
    let pid: libc::pid_t = lines.next()?.trim().parse().ok()?;
    let port: u16 = lines.nth(2)?.trim().parse().ok()?;
    // SAFETY: kill with signal 0 only checks that the process exists.
    let alive = unsafe { libc::kill(pid, 0) == 0 };
    let answers = TcpStream::connect_timeout(
        &SocketAddrV4::new(Ipv4Addr::LOCALHOST, port).into(),
        Duration::from_secs(1),
    )
    .is_ok();
    (alive && answers).then_some(port)
}

fn free_port() -> Result<u16, EmbeddedError> {
    let listener =
        TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).map_err(io("finding a free port"))?;
    Ok(listener
        .local_addr()
        .map_err(io("finding a free port"))?
        .port())
}

fn start_server(
    bindir: &Path,
    base: &Path,
    cluster_dir: PathBuf,
    password: String,
    run_as: Option<RunAs>,
    options: &StartOptions,
) -> Result<PrivateCluster, EmbeddedError> {
    let socket_dir = base.join("run");
    fs::create_dir_all(&socket_dir).map_err(io(format!("creating {}", socket_dir.display())))?;
    if let Some(user) = run_as {
        chown(&socket_dir, user)?;
    }
    let log_path = base.join("postgres.log");
    // The port is probed free and then handed to postgres; if another process takes it
    // in between, postgres exits and we try another.
    let mut last_error = String::new();
    for _attempt in 0..3 {
        let port = match options.port {
            Some(p) => p,
            None => free_port()?,
        };
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&log_path)
            .map_err(io(format!("opening {}", log_path.display())))?;
        // The log can hold query text: owner only, also for a log made by an older build.
        log.set_permissions(fs::Permissions::from_mode(0o600))
            .map_err(io(format!("setting permissions on {}", log_path.display())))?;
        let log_start = log.metadata().map(|m| m.len()).unwrap_or(0);
        let log_err = log.try_clone().map_err(io("duplicating the log handle"))?;
        let mut cmd = command(&bindir.join("postgres"), run_as);
        cmd.arg("-D")
            .arg(&cluster_dir)
            .args(["-c", "listen_addresses=127.0.0.1", "-p", &port.to_string()])
            .arg("-c")
            .arg(format!("unix_socket_directories={}", socket_dir.display()))
            .args(["-c", "max_connections=200", "-c", "shared_buffers=256MB"])
            .args(if options.durable {
                &[][..]
            } else {
                &NOT_DURABLE[..]
            })
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err)
            .process_group(0);
        // SAFETY: prctl is async-signal-safe; it runs in the forked child before exec and
        // asks the kernel to send SIGINT (fast shutdown) if our thread dies.
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGINT);
                Ok(())
            });
        }
        let mut child = cmd.spawn().map_err(io("starting postgres"))?;
        let mut cluster = PrivateCluster {
            cluster_dir: cluster_dir.clone(),
            port,
            password: password.clone(),
            child: None,
        };
        match wait_until_ready(&mut child, &cluster.url_for("postgres")) {
            Ok(()) => {
                cluster.child = Some(child);
                tracing::info!(port, dir = %cluster_dir.display(), "private PostgreSQL started");
                return Ok(cluster);
            }
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                last_error = format!("{e}; log: {}", log_tail(&log_path, log_start));
            }
        }
    }
    Err(EmbeddedError::Failed(format!(
        "postgres did not start: {last_error}"
    )))
}

fn wait_until_ready(child: &mut Child, url: &str) -> Result<(), String> {
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("postgres exited with {status}"));
        }
        if PgConnection::establish(url).is_ok() {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err("postgres did not accept connections in time".into());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// What postgres wrote to its log since `from`, to explain a failed start.
fn log_tail(path: &Path, from: u64) -> String {
    let mut text = String::new();
    if let Ok(mut f) = fs::File::open(path)
        && f.seek(SeekFrom::Start(from)).is_ok()
    {
        let _ = f.take(4096).read_to_string(&mut text);
    }
    text.trim().to_string()
}

#[cfg(test)]
mod fallback_tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn the_fallback_directory_is_made_private_or_refused() {
        let root = tempfile::tempdir().unwrap();
        // Made fresh: 0711, and accepted again on the next run.
        let fresh = root.path().join("tenantry-fresh");
        prepare_fallback(&fresh).unwrap();
        assert_eq!(fs::metadata(&fresh).unwrap().mode() & 0o777, 0o711);
        prepare_fallback(&fresh).unwrap();

        // Planted by someone else: world-writable, a symlink, another owner.
        let open = root.path().join("tenantry-open");
        fs::create_dir(&open).unwrap();
        fs::set_permissions(&open, fs::Permissions::from_mode(0o777)).unwrap();
        assert!(prepare_fallback(&open).is_err());
        let target = root.path().join("elsewhere");
        fs::create_dir(&target).unwrap();
        let link = root.path().join("tenantry-link");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        assert!(prepare_fallback(&link).is_err());
        let file = root.path().join("tenantry-file");
        fs::write(&file, "x").unwrap();
        assert!(prepare_fallback(&file).is_err());
        if is_root() {
            let theirs = root.path().join("tenantry-theirs");
            fs::create_dir(&theirs).unwrap();
            std::os::unix::fs::chown(&theirs, Some(65534), Some(65534)).unwrap();
            fs::set_permissions(&theirs, fs::Permissions::from_mode(0o700)).unwrap();
            assert!(prepare_fallback(&theirs).is_err());
        }
    }

    #[test]
    fn secrets_are_written_exclusively_and_planted_ones_are_not_read() {
        let root = tempfile::tempdir().unwrap();
        let secret = root.path().join("pg_password");
        assert!(read_private(&secret).unwrap().is_none());
        write_private(&secret, "s3cret").unwrap();
        assert_eq!(fs::metadata(&secret).unwrap().mode() & 0o777, 0o600);
        assert_eq!(read_private(&secret).unwrap().as_deref(), Some("s3cret"));
        // Overwriting replaces the file (a symlink planted at the name is replaced,
        // not followed).
        let victim = root.path().join("victim");
        fs::write(&victim, "untouched").unwrap();
        let planted = root.path().join("planted_password");
        std::os::unix::fs::symlink(&victim, &planted).unwrap();
        assert!(read_private(&planted).is_err(), "a symlink is not read");
        write_private(&planted, "new").unwrap();
        assert_eq!(fs::read_to_string(&victim).unwrap(), "untouched");
        // A readable-by-others file is not trusted.
        let loose = root.path().join("loose");
        fs::write(&loose, "chosen-by-someone").unwrap();
        fs::set_permissions(&loose, fs::Permissions::from_mode(0o644)).unwrap();
        assert!(read_private(&loose).is_err());
    }

    #[test]
    fn a_planted_password_in_the_data_directory_is_refused() {
        let root = tempfile::tempdir().unwrap();
        let planted = root.path().join("pg_password");
        fs::write(&planted, "attacker-chosen").unwrap();
        fs::set_permissions(&planted, fs::Permissions::from_mode(0o644)).unwrap();
        assert!(cluster_password(root.path()).is_err());
    }
}
