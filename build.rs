//! Rebuilds the crate when a migration is added or changed: `embed_migrations!` lists the
//! `migrations/` directory when it expands, and cargo does not know to expand it again
//! when only a new directory appears there.

fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
