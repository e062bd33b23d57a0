//! Fire times of a cron schedule in a job's time zone, with the DST policy:
//! - a local time that does not exist (clocks jump forward) fires at the next valid local
//!   time (02:30 on a 02:00→03:00 night fires at 03:00), once however many fire times fell
//!   in the gap;
//! - a local time that exists twice (clocks go back) fires once, at its first occurrence.
//!
//! The schedule is evaluated on the wall clock (naive local times), then each local time is
//! mapped to an instant by that policy.

use chrono::{DateTime, LocalResult, NaiveDateTime, TimeZone, Timelike, Utc};
use chrono_tz::Tz;

/// The next `n` fire times strictly after `after`.
pub fn next_fires(
    schedule: &cron::Schedule,
    tz: Tz,
    after: DateTime<Utc>,
    n: usize,
) -> Vec<DateTime<Utc>> {
    let start = Utc.from_utc_datetime(&after.with_timezone(&tz).naive_local());
    let mut out: Vec<DateTime<Utc>> = Vec::with_capacity(n);
    // Bound the walk: a schedule whose local times all fall before `after` (the repeated
    // hour) or collapse onto one instant (a gap) still ends.
    for local in schedule.after(&start).take(n * 4 + 10_000) {
        let Some(t) = resolve_local(tz, local.naive_utc()) else {
            continue;
        };
        if t <= after || out.last().is_some_and(|l| t <= *l) {
            continue;
        }
        out.push(t);
        if out.len() == n {
            break;
        }
    }
    out
}

/// The next fire time strictly after `after`.
pub fn next_fire(schedule: &cron::Schedule, tz: Tz, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
    next_fires(schedule, tz, after, 1).into_iter().next()
}

/// True if the schedule had a fire time in `(from, to]`.
pub fn fired_between(
    schedule: &cron::Schedule,
    tz: Tz,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> bool {
    next_fire(schedule, tz, from).is_some_and(|t| t <= to)
}

/// The instant of a local wall-clock time, by the DST policy above.
fn resolve_local(tz: Tz, local: NaiveDateTime) -> Option<DateTime<Utc>> {
    match tz.from_local_datetime(&local) {
        LocalResult::Single(t) => Some(t.with_timezone(&Utc)),
        LocalResult::Ambiguous(first, _) => Some(first.with_timezone(&Utc)),
        LocalResult::None => {
            // In a gap: the first whole minute that exists (real transitions are on minutes).
            let mut m = local.with_second(0)?.with_nanosecond(0)?;
            for _ in 0..(26 * 60) {
                m += chrono::Duration::minutes(1);
                if let Some(t) = tz.from_local_datetime(&m).earliest() {
                    return Some(t.with_timezone(&Utc));
                }
            }
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cron(expr: &str) -> cron::Schedule {
        parse_cron(expr).unwrap_or_else(|e| panic!("{expr}: {e}"))
    }
    use crate::spec::job::parse_cron;

    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn seconds_field_and_presets() {
        let s = cron("*/10 * * * * *");
        let f = next_fires(&s, chrono_tz::UTC, utc("2026-01-01T00:00:05Z"), 3);
        assert_eq!(
            f,
            vec![
                utc("2026-01-01T00:00:10Z"),
                utc("2026-01-01T00:00:20Z"),
                utc("2026-01-01T00:00:30Z")
            ]
        );
        let h = cron("@hourly");
        assert_eq!(
            next_fire(&h, chrono_tz::UTC, utc("2026-01-01T00:00:00Z")),
            Some(utc("2026-01-01T01:00:00Z"))
        );
    }

    #[test]
    fn time_zone_shifts_the_fire_time() {
        // 09:00 in Paris in winter is 08:00 UTC.
        let s = cron("0 9 * * *");
        let t = next_fire(&s, chrono_tz::Europe::Paris, utc("2026-01-10T00:00:00Z"));
        assert_eq!(t, Some(utc("2026-01-10T08:00:00Z")));
    }

    #[test]
    fn a_skipped_local_time_runs_at_the_next_valid_time() {
        // Paris, 2026-03-29: 02:00 → 03:00 (01:00 UTC). 02:30 does not exist.
        let s = cron("30 2 * * *");
        let f = next_fires(&s, chrono_tz::Europe::Paris, utc("2026-03-28T12:00:00Z"), 2);
        assert_eq!(
            f,
            vec![utc("2026-03-29T01:00:00Z"), utc("2026-03-30T00:30:00Z")]
        );
        // Every 15 minutes: 02:00, 02:15, 02:30, 02:45 and 03:00 all become 03:00, once.
        let s = cron("*/15 * * * *");
        let f = next_fires(&s, chrono_tz::Europe::Paris, utc("2026-03-29T00:40:00Z"), 3);
        assert_eq!(
            f,
            vec![
                utc("2026-03-29T00:45:00Z"),
                utc("2026-03-29T01:00:00Z"),
                utc("2026-03-29T01:15:00Z")
            ]
        );
    }

    #[test]
    fn a_repeated_hour_runs_once() {
        // Paris, 2026-10-25: 03:00 → 02:00; 02:30 happens at 00:30 and 01:30 UTC.
        let s = cron("30 2 * * *");
        let f = next_fires(&s, chrono_tz::Europe::Paris, utc("2026-10-24T12:00:00Z"), 2);
        assert_eq!(
            f,
            vec![utc("2026-10-25T00:30:00Z"), utc("2026-10-26T01:30:00Z")]
        );
        // Asked during the second 02:xx hour, the 02:30 already ran: next is the next day.
        let f = next_fire(&s, chrono_tz::Europe::Paris, utc("2026-10-25T01:10:00Z"));
        assert_eq!(f, Some(utc("2026-10-26T01:30:00Z")));
    }

    #[test]
    fn fired_between_detects_missed_schedules() {
        let s = cron("0 * * * *");
        let tz = chrono_tz::UTC;
        assert!(fired_between(
            &s,
            tz,
            utc("2026-01-01T00:30:00Z"),
            utc("2026-01-01T03:10:00Z")
        ));
        assert!(!fired_between(
            &s,
            tz,
            utc("2026-01-01T00:30:00Z"),
            utc("2026-01-01T00:59:00Z")
        ));
    }
}
