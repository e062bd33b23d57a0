//! Crash points, for the tests that prove a crash at each commit point loses and duplicates
//! nothing. `LAKECTL_FAILPOINT=NAME` (or `NAME:N`) makes the process abort, as a crash would
//! (no destructor runs, nothing is flushed), the first (or N-th) time it passes point NAME.
//! Unset, a point costs one relaxed atomic load.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;

/// The quarantine commit of a batch is done; its bronze commit is not.
pub const AFTER_QUARANTINE_COMMIT: &str = "bronze.after-quarantine-commit";
/// The bronze commit of a batch is done, nothing after it yet.
pub const AFTER_BRONZE_COMMIT: &str = "bronze.after-bronze-commit";

static ARMED: OnceLock<Option<(String, u32)>> = OnceLock::new();
static PASSED: AtomicU32 = AtomicU32::new(0);

fn armed() -> &'static Option<(String, u32)> {
    ARMED.get_or_init(|| {
        let v = std::env::var("LAKECTL_FAILPOINT").ok()?;
        let (name, n) = match v.split_once(':') {
            Some((name, n)) => (name.to_string(), n.parse().unwrap_or(1)),
            None => (v, 1),
        };
        Some((name, n.max(1)))
    })
}

/// Passes point `name`: aborts the process when `LAKECTL_FAILPOINT` arms it.
pub fn hit(name: &str) {
    if let Some((armed, n)) = armed() {
        if armed == name && PASSED.fetch_add(1, Ordering::Relaxed) + 1 == *n {
            eprintln!("failpoint {name}: aborting");
            std::process::abort();
        }
    }
}
