//! The lake's checks when it lives on an object store: the bucket can be reached, and the
//! store honours conditional writes (create-if-absent), on which every Delta commit relies
//! to refuse a second writer of the same version.

use deltalake::logstore::object_store::{ObjectStoreExt, PutMode, PutOptions, PutPayload};
use deltalake::ObjectStoreError;

use super::{first_line, Check};
use crate::storage::{object_store, Location};

/// What to do when the store cannot be reached.
const REACH_FIX: &str = "check `lake:` (s3://bucket/prefix), the `storage:` endpoint and region, \
     and the credentials (`storage:` from ${ENV}, or AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY); \
     a local test server: scripts/s3.sh start";

/// "lake reachable" and "conditional writes" for an object-store lake.
pub(super) async fn checks(lake: &Location) -> Vec<Check> {
    let reach = "lake reachable";
    let cond = "store honours conditional writes";
    let unreachable = |detail: String| {
        vec![
            Check::fail(reach, detail, REACH_FIX),
            Check::skip(cond, "lake unreachable"),
        ]
    };
    let store = match object_store(lake) {
        Ok(s) => s,
        Err(e) => return unreachable(format!("{lake}: {}", first_line(&e.to_string()))),
    };
    if let Err(e) = store.list_with_delimiter(None).await {
        return unreachable(format!("{lake}: {}", first_line(&e.to_string())));
    }
    let probe = deltalake::Path::from(format!(
        ".lakectl-doctor-{}-{}",
        std::process::id(),
        chrono::Utc::now().timestamp_micros()
    ));
    let create = || PutOptions {
        mode: PutMode::Create,
        ..Default::default()
    };
    let first = store
        .put_opts(&probe, PutPayload::from_static(b"1"), create())
        .await;
    let second = match &first {
        Ok(_) => Some(
            store
                .put_opts(&probe, PutPayload::from_static(b"2"), create())
                .await,
        ),
        Err(_) => None,
    };
    let _ = store.delete(&probe).await;
    let reached = Check::pass(reach, lake.to_string());
    let conditional = match (first, second) {
        (Ok(_), Some(Err(ObjectStoreError::AlreadyExists { .. }))) => Check::pass(
            cond,
            "a second create-if-absent of the same object was refused (If-None-Match: *)",
        ),
        (Ok(_), Some(Ok(_))) => Check::fail(
            cond,
            "a second create-if-absent of the same object succeeded: two writers could both commit the same table version and one commit would be lost",
            "use a store that honours If-None-Match (AWS S3, MinIO, Ceph RGW, Cloudflare R2, SeaweedFS); until then run exactly one writer per table",
        ),
        (Ok(_), Some(Err(e))) | (Err(e), _) => {
            let detail = first_line(&e.to_string());
            if matches!(e, ObjectStoreError::NotImplemented { .. })
                || detail.to_ascii_lowercase().contains("not implemented")
            {
                Check::fail(
                    cond,
                    detail,
                    "remove `conditional_put: disabled` (or AWS_CONDITIONAL_PUT) from the storage options: Delta commits need create-if-absent",
                )
            } else {
                return unreachable(format!("writing a probe object: {detail}"));
            }
        }
        (Ok(_), None) => Check::skip(cond, "no probe"),
    };
    vec![reached, conditional]
}
