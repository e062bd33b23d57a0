//! Event-time watermark, tracked per Kafka partition (as Flink does): the pipeline's
//! watermark is the minimum, over the partitions that have data, of each partition's max
//! event time, minus the allowed lateness. A backlog replayed with uneven progress across
//! partitions therefore never makes a lagging partition's records late. As in Spark, a
//! batch is judged against the watermark of the batches before it; the state is stored in
//! every bronze commit and restored on restart.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Per-partition max event times (µs since epoch), persisted in each bronze commit.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WatermarkState {
    /// Partition → max event time seen (µs).
    pub max_event_us: BTreeMap<i32, i64>,
    /// Written by `lakectl watermark reset`: states older than this one are ignored.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub reset: bool,
}

impl WatermarkState {
    /// Folds in the max event time of `partition` seen in a batch.
    pub fn observe(&mut self, partition: i32, event_us: i64) {
        let e = self.max_event_us.entry(partition).or_insert(i64::MIN);
        *e = (*e).max(event_us);
    }

    /// The state of `partitions` (all when None) from states stored in commits, newest
    /// first: each partition's entry comes from the newest state that has it. Several
    /// workers commit to one table, each storing its own partitions' state.
    pub fn merge_newest(
        states: impl IntoIterator<Item = WatermarkState>,
        partitions: Option<&[i32]>,
    ) -> Self {
        let mut out = Self::default();
        for s in states {
            for (p, us) in s.max_event_us {
                if partitions.is_none_or(|ps| ps.contains(&p)) {
                    out.max_event_us.entry(p).or_insert(us);
                }
            }
            if s.reset {
                break;
            }
        }
        out
    }

    /// The state stored in `bronze`'s last 500 commits, for `partitions` (all when None).
    pub async fn stored(
        bronze: &crate::lake::Table,
        partitions: Option<&[i32]>,
    ) -> Result<Self, crate::lake::LakeError> {
        let values = bronze.commit_values(super::WATERMARK_KEY, 500).await?;
        Ok(Self::merge_newest(
            values
                .into_iter()
                .filter_map(|v| serde_json::from_value(v).ok()),
            partitions,
        ))
    }

    /// The watermark (µs), or None while no partition has data. `waiting` are partitions
    /// that still have unread records: one never observed holds the watermark back (as
    /// Flink's unstarted splits do), so a lagging partition's first records are never late.
    pub fn watermark_us(&self, delay_us: i64, waiting: &[i32]) -> Option<i64> {
        if waiting.iter().any(|p| !self.max_event_us.contains_key(p)) {
            return None;
        }
        self.max_event_us
            .values()
            .min()
            .map(|m| m.saturating_sub(delay_us))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minimum_over_partitions() {
        let mut w = WatermarkState::default();
        assert_eq!(w.watermark_us(10, &[]), None);
        w.observe(0, 1_000);
        assert_eq!(w.watermark_us(100, &[]), Some(900));
        // Partition 1 has unread records but was never observed: it holds the watermark.
        assert_eq!(w.watermark_us(100, &[1]), None);
        w.observe(1, 500);
        w.observe(0, 900);
        assert_eq!(w.watermark_us(100, &[1]), Some(400));
        let json = serde_json::to_string(&w).unwrap();
        let older = WatermarkState {
            max_event_us: [(0, 1), (2, 7)].into(),
            reset: false,
        };
        let merged = WatermarkState::merge_newest([w.clone(), older.clone()], None);
        assert_eq!(merged.max_event_us, [(0, 1_000), (1, 500), (2, 7)].into());
        let mine = WatermarkState::merge_newest([w.clone(), older], Some(&[2]));
        assert_eq!(mine.max_event_us, [(2, 7)].into());
        assert_eq!(serde_json::from_str::<WatermarkState>(&json).unwrap(), w);
        assert!(!json.contains("reset"), "{json}");
    }

    #[test]
    fn a_reset_hides_older_states() {
        let newer = WatermarkState {
            max_event_us: [(1, 50)].into(),
            reset: false,
        };
        let reset = WatermarkState {
            max_event_us: BTreeMap::new(),
            reset: true,
        };
        let far_future = WatermarkState {
            max_event_us: [(0, i64::MAX / 2), (1, i64::MAX / 2)].into(),
            reset: false,
        };
        let merged = WatermarkState::merge_newest([newer, reset, far_future], None);
        assert_eq!(merged.max_event_us, [(1, 50)].into());
    }
}
