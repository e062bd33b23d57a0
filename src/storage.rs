//! Where the lake lives: a local folder or an object store (S3 and S3-compatible stores),
//! addressed by URL, with the options that reach it. Every table is a [`Location`]; the
//! lake layer hands its URL and options to delta-rs and Polars, and nothing reads table
//! data or logs with `std::fs` except through the `file://` case.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Once};

use url::Url;

/// The `storage:` keys of `pipelines.yaml` and the object-store option each one sets.
pub const STORAGE_KEYS: &[(&str, &str)] = &[
    ("endpoint", "aws_endpoint"),
    ("region", "aws_region"),
    ("allow_http", "aws_allow_http"),
    ("access_key_id", "aws_access_key_id"),
    ("secret_access_key", "aws_secret_access_key"),
    ("session_token", "aws_session_token"),
    ("virtual_hosted_style", "aws_virtual_hosted_style_request"),
    ("conditional_put", "aws_conditional_put"),
];

/// The standard environment variables read for an `s3://` lake when the spec's `storage:`
/// does not set the option, and the option each sets.
const ENV_KEYS: &[(&str, &str)] = &[
    ("AWS_ENDPOINT_URL", "aws_endpoint"),
    ("AWS_ENDPOINT", "aws_endpoint"),
    ("AWS_REGION", "aws_region"),
    ("AWS_DEFAULT_REGION", "aws_region"),
    ("AWS_ALLOW_HTTP", "aws_allow_http"),
    ("AWS_ACCESS_KEY_ID", "aws_access_key_id"),
    ("AWS_SECRET_ACCESS_KEY", "aws_secret_access_key"),
    ("AWS_SESSION_TOKEN", "aws_session_token"),
    (
        "AWS_VIRTUAL_HOSTED_STYLE_REQUEST",
        "aws_virtual_hosted_style_request",
    ),
];

/// Options to reach an object store, as object_store config keys (`aws_endpoint`, …).
/// Credentials among them are registered with [`crate::redact`] and never printed; `Debug`
/// shows the keys only.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct StorageOptions(BTreeMap<String, String>);

impl fmt::Debug for StorageOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.0.keys()).finish()
    }
}

impl StorageOptions {
    /// Options from the spec's `storage:` map (keys of [`STORAGE_KEYS`], already checked),
    /// completed by the standard `AWS_*` environment variables for what the map leaves out.
    pub fn resolve(spec: &BTreeMap<String, String>) -> Self {
        Self::resolve_with(spec, &|k| std::env::var(k).ok())
    }

    fn resolve_with(spec: &BTreeMap<String, String>, env: &dyn Fn(&str) -> Option<String>) -> Self {
        let mut out = BTreeMap::new();
        for (k, v) in spec {
            let key = STORAGE_KEYS
                .iter()
                .find(|(name, _)| name == k)
                .map_or(k.as_str(), |(_, option)| option);
            out.insert(key.to_string(), v.clone());
        }
        for (var, option) in ENV_KEYS {
            if let Some(v) = env(var).filter(|v| !v.is_empty()) {
                out.entry(option.to_string()).or_insert(v);
            }
        }
        for (k, v) in &out {
            if crate::redact::is_secret_key(k) {
                crate::redact::register(v);
            }
        }
        Self(out)
    }

    /// Options already in object-store keys (e.g. those an open table was opened with).
    pub fn from_map(map: BTreeMap<String, String>) -> Self {
        Self(map)
    }

    /// The options as delta-rs and Polars take them.
    pub fn map(&self) -> HashMap<String, String> {
        self.0.clone().into_iter().collect()
    }

    /// The value of object-store option `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }
}

/// Where the lake or one of its tables lives: a local folder (`file://`) or an object-store
/// prefix (`s3://bucket/prefix/`), with the options to reach it. Its URL always ends with `/`.
#[derive(Clone, PartialEq, Eq)]
pub struct Location {
    url: Url,
    options: Arc<StorageOptions>,
}

impl fmt::Debug for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Location({self}, options: {:?})", self.options)
    }
}

/// A local path shows as a path; an object-store URL as the URL (never with credentials).
impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&shown(&self.url))
    }
}

/// A location's URL as shown to people: a `file://` URL as its path; any other without user
/// or password, and without the trailing `/`.
pub fn shown(url: &Url) -> String {
    if let Some(p) = file_path(url) {
        return p.display().to_string();
    }
    let mut u = url.clone();
    let _ = u.set_username("");
    let _ = u.set_password(None);
    u.to_string().trim_end_matches('/').to_string()
}

/// The local path of a `file://` URL (collecting the components drops a trailing `/`).
fn file_path(url: &Url) -> Option<PathBuf> {
    (url.scheme() == "file")
        .then(|| url.to_file_path().ok())
        .flatten()
        .map(|p| p.components().collect())
}

/// Object-store URL schemes lakectl reaches (besides local paths).
pub const SCHEMES: &[&str] = &["s3", "s3a"];

impl Location {
    /// A lake or table given as `s3://bucket/prefix`, `file:///path` or a local path
    /// (relative to `base`).
    pub fn parse(s: &str, base: &Path, options: StorageOptions) -> Result<Self, String> {
        let s = s.trim();
        if s.is_empty() {
            return Err("the location is empty".into());
        }
        let url = if let Some((scheme, _)) = s.split_once("://") {
            let mut url = Url::parse(s).map_err(|e| format!("`{s}` is not a valid URL: {e}"))?;
            if url.scheme() == "file" {
                let p = url
                    .to_file_path()
                    .map_err(|_| format!("`{s}` is not a valid file URL"))?;
                dir_url(&p)?
            } else if SCHEMES.contains(&scheme) {
                if url.host_str().is_none_or(str::is_empty) {
                    return Err(format!(
                        "`{s}` names no bucket (expected s3://bucket/prefix)"
                    ));
                }
                if url.password().is_some() || !url.username().is_empty() {
                    return Err(format!(
                        "`{}` carries credentials in the URL; put them in `storage:` (from ${{ENV}}) or the AWS_* environment variables",
                        shown(&url)
                    ));
                }
                if !url.path().ends_with('/') {
                    let p = format!("{}/", url.path());
                    url.set_path(&p);
                }
                url
            } else {
                return Err(format!(
                    "unsupported storage scheme `{scheme}://` (lakectl reaches local paths, file:// and s3://)"
                ));
            }
        } else {
            dir_url(&base.join(s))?
        };
        Ok(Self {
            url,
            options: Arc::new(options),
        })
    }

    /// The same location reached with `options`.
    pub fn with_options(self, options: StorageOptions) -> Self {
        Self {
            url: self.url,
            options: Arc::new(options),
        }
    }

    /// The local folder `path` (made absolute).
    pub fn local(path: &Path) -> Result<Self, String> {
        Ok(Self {
            url: dir_url(path)?,
            options: Arc::default(),
        })
    }

    /// The location of an open table's URL, with `options`.
    pub fn from_url(url: &Url, options: &StorageOptions) -> Self {
        let mut url = url.clone();
        if !url.path().ends_with('/') {
            let p = format!("{}/", url.path());
            url.set_path(&p);
        }
        Self {
            url,
            options: Arc::new(options.clone()),
        }
    }

    /// The location `rel` under this one (`rel` is `/`-separated; each segment is taken
    /// literally). A local absolute `rel` stands for itself, as with paths.
    pub fn join(&self, rel: &str) -> Self {
        if let Some(p) = self.local_path() {
            if let Ok(url) = dir_url(&p.join(rel)) {
                return Self {
                    url,
                    options: self.options.clone(),
                };
            }
        }
        let mut url = self.url.clone();
        if let Ok(mut segs) = url.path_segments_mut() {
            segs.pop_if_empty();
            for s in rel.split('/').filter(|s| !s.is_empty() && *s != ".") {
                segs.push(s);
            }
            segs.push("");
        }
        Self {
            url,
            options: self.options.clone(),
        }
    }

    /// The URL (ends with `/`).
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// The options to reach it.
    pub fn options(&self) -> &StorageOptions {
        &self.options
    }

    /// The local folder, for a `file://` location.
    pub fn local_path(&self) -> Option<PathBuf> {
        file_path(&self.url)
    }

    /// True for an object-store location.
    pub fn is_remote(&self) -> bool {
        self.url.scheme() != "file"
    }

    /// What readers (Polars) open for the object `rel` under this location (`rel` is the
    /// object's name relative to it, taken literally): a local path, or the object's URL.
    pub fn object(&self, rel: &str) -> String {
        match self.local_path() {
            Some(p) => p.join(rel).to_string_lossy().into_owned(),
            None => format!("{}{rel}", self.prefix()),
        }
    }

    /// [`Location::object`] of an empty name: what every object's name starts with.
    pub fn prefix(&self) -> String {
        match self.local_path() {
            Some(p) => format!("{}/", p.to_string_lossy().trim_end_matches('/')),
            None => {
                // Decoded, so that keys are taken literally by the readers.
                let path =
                    percent_encoding::percent_decode_str(self.url.path()).decode_utf8_lossy();
                format!(
                    "{}://{}{}",
                    self.url.scheme(),
                    self.url.host_str().unwrap_or_default(),
                    path
                )
            }
        }
    }
}

fn dir_url(p: &Path) -> Result<Url, String> {
    let abs = std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    Url::from_directory_path(&abs)
        .map_err(|_| format!("`{}` is not a valid folder path", p.display()))
}

/// The object store rooted at `loc` (objects named relative to it), as delta-rs builds it
/// from the location's options.
pub fn object_store(
    loc: &Location,
) -> Result<Arc<dyn deltalake::ObjectStore>, deltalake::DeltaTableError> {
    register_handlers();
    let store = deltalake::DeltaTableBuilder::from_url(loc.url().clone())?
        .with_storage_options(loc.options().map())
        .build_storage()?;
    Ok(store.object_store(None))
}

/// Registers the object stores with delta-rs (once per process).
pub fn register_handlers() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| deltalake::aws::register_handlers(None));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s3(s: &str) -> Location {
        Location::parse(s, Path::new("/"), StorageOptions::default()).unwrap()
    }

    #[test]
    fn local_paths_with_spaces_and_accents_round_trip() {
        let l = Location::parse(
            "my lake/été",
            Path::new("/tmp/x y"),
            StorageOptions::default(),
        )
        .unwrap();
        assert_eq!(
            l.local_path().unwrap(),
            PathBuf::from("/tmp/x y/my lake/été")
        );
        assert_eq!(l.to_string(), "/tmp/x y/my lake/été");
        let t = l.join("bronze/ventes");
        assert_eq!(
            t.local_path().unwrap(),
            PathBuf::from("/tmp/x y/my lake/été/bronze/ventes")
        );
        assert_eq!(
            t.object("a=%3D/f.parquet"),
            "/tmp/x y/my lake/été/bronze/ventes/a=%3D/f.parquet"
        );
        assert!(!t.is_remote());
    }

    #[test]
    fn s3_urls_join_and_name_objects_literally() {
        let l = s3("s3://bucket/lake");
        assert_eq!(l.url().as_str(), "s3://bucket/lake/");
        let t = l.join("bronze/ventes été");
        assert!(t.is_remote());
        assert_eq!(
            t.url().as_str(),
            "s3://bucket/lake/bronze/ventes%20%C3%A9t%C3%A9/"
        );
        assert_eq!(
            t.to_string(),
            "s3://bucket/lake/bronze/ventes%20%C3%A9t%C3%A9"
        );
        assert_eq!(t.prefix(), "s3://bucket/lake/bronze/ventes été/");
        assert_eq!(
            t.object("pays=x%3Dy/f.parquet"),
            "s3://bucket/lake/bronze/ventes été/pays=x%3Dy/f.parquet"
        );
        assert_eq!(s3("s3://bucket").join("t").url().as_str(), "s3://bucket/t/");
    }

    #[test]
    fn bad_locations_are_refused_with_the_reason() {
        let base = Path::new("/");
        let o = StorageOptions::default;
        assert!(Location::parse("gs://b/x", base, o())
            .unwrap_err()
            .contains("unsupported"));
        assert!(Location::parse("s3:///x", base, o())
            .unwrap_err()
            .contains("no bucket"));
        let e = Location::parse("s3://AKIA:hunter22@b/x", base, o()).unwrap_err();
        assert!(e.contains("credentials") && !e.contains("hunter22"), "{e}");
    }

    #[test]
    fn options_map_spec_keys_and_fill_from_the_environment() {
        let spec: BTreeMap<String, String> = [
            ("endpoint", "http://127.0.0.1:9000"),
            ("region", "eu-west-3"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let env = |k: &str| match k {
            "AWS_REGION" => Some("us-east-1".to_string()),
            "AWS_SECRET_ACCESS_KEY" => Some("s3cr3t-from-env".to_string()),
            _ => None,
        };
        let o = StorageOptions::resolve_with(&spec, &env);
        assert_eq!(o.get("aws_endpoint"), Some("http://127.0.0.1:9000"));
        assert_eq!(
            o.get("aws_region"),
            Some("eu-west-3"),
            "the spec wins over the environment"
        );
        assert_eq!(o.get("aws_secret_access_key"), Some("s3cr3t-from-env"));
        let shown = format!("{o:?}");
        assert!(
            !shown.contains("s3cr3t") && shown.contains("aws_secret_access_key"),
            "{shown}"
        );
        assert_eq!(crate::redact::text("x s3cr3t-from-env y"), "x **** y");
    }
}
