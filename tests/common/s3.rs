//! The test S3 server that `scripts/test.sh` starts (`scripts/s3.sh`).

use std::collections::HashMap;

/// Its bucket.
pub const BUCKET: &str = "lakectl";
/// The credentials the tests use (the server accepts any).
pub const ACCESS_KEY_ID: &str = "lakectl-test-key";
/// A secret that must never appear in any output.
pub const SECRET_ACCESS_KEY: &str = "lakectl-test-s3cr3t-Zq9";

/// The server's endpoint (LAKECTL_TEST_S3), or None when it is not set; a failure when
/// LAKECTL_REQUIRE_S3 says it must be.
pub fn endpoint() -> Option<String> {
    match std::env::var("LAKECTL_TEST_S3") {
        Ok(e) if !e.is_empty() => Some(e),
        _ => {
            assert!(
                std::env::var("LAKECTL_REQUIRE_S3").is_err(),
                "LAKECTL_REQUIRE_S3 is set but LAKECTL_TEST_S3 is not"
            );
            eprintln!("skipped: LAKECTL_TEST_S3 is not set (scripts/test.sh sets it)");
            None
        }
    }
}

/// The environment that points lakectl at it.
pub fn env() -> Vec<(&'static str, String)> {
    vec![
        ("AWS_ENDPOINT_URL", endpoint().unwrap_or_default()),
        ("AWS_ALLOW_HTTP", "true".into()),
        ("AWS_REGION", "us-east-1".into()),
        ("AWS_ACCESS_KEY_ID", ACCESS_KEY_ID.into()),
        ("AWS_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY.into()),
    ]
}

/// The same as object_store options, for the tests' own delta-rs reader.
pub fn options() -> HashMap<String, String> {
    HashMap::from([
        ("aws_endpoint".to_string(), endpoint().unwrap_or_default()),
        ("aws_allow_http".to_string(), "true".to_string()),
        ("aws_region".to_string(), "us-east-1".to_string()),
        ("aws_access_key_id".to_string(), ACCESS_KEY_ID.to_string()),
        (
            "aws_secret_access_key".to_string(),
            SECRET_ACCESS_KEY.to_string(),
        ),
    ])
}
