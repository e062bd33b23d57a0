//! The build: `cargo test` must resolve every crate of the normal build with the same
//! features as `cargo build`, or the test build after the quickstart's compiles polars and
//! deltalake a second time (a dev-dependency that turns on a feature of serde_json, say).

use std::collections::{BTreeMap, BTreeSet};

/// Each package of `cargo tree` (with `edges`) and the features it is built with.
fn resolution(edges: &str) -> BTreeMap<String, BTreeSet<String>> {
    let out = std::process::Command::new(env!("CARGO"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "tree",
            "--offline",
            "--locked",
            "--prefix",
            "none",
            "-f",
            "{p} {f}",
            "-e",
            edges,
        ])
        .output()
        .expect("run cargo tree");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut m: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let parts: Vec<&str> = line.trim_end_matches(" (*)").split(' ').collect();
        // "name vX.Y.Z [features]"; feature nodes ("name feature \"f\"") are skipped.
        if parts.len() < 2 || !parts[1].starts_with('v') {
            continue;
        }
        let feats = parts
            .get(2)
            .filter(|f| !f.starts_with('('))
            .copied()
            .unwrap_or("");
        m.entry(format!("{} {}", parts[0], parts[1]))
            .or_default()
            .extend(
                feats
                    .split(',')
                    .filter(|f| !f.is_empty())
                    .map(str::to_string),
            );
    }
    m
}

#[test]
fn dev_dependencies_change_no_feature_of_the_normal_build() {
    let normal = resolution("normal,build");
    let with_dev = resolution("normal,build,dev");
    assert!(normal.len() > 100, "{normal:?}");
    let changed: Vec<String> = normal
        .iter()
        .filter_map(|(p, f)| {
            let d = with_dev.get(p)?;
            (d != f).then(|| format!("{p}: +{:?}", d.difference(f).collect::<Vec<_>>()))
        })
        .collect();
    assert!(
        changed.is_empty(),
        "the test build would recompile these (pin the features in [dependencies]): {changed:?}"
    );
}
