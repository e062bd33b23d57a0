//! Human durations (`10m`, `1s`, `1h30m`, `250ms`) and sizes (`64MiB`, `1GB`, `4096`).

use std::time::Duration;

/// Parses a human duration: one or more `<number><unit>` with units ms, s, m, h, d.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    if t.is_empty() {
        return Err("empty duration".into());
    }
    let mut total = Duration::ZERO;
    let mut rest = t;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if digits == 0 {
            return Err(format!("`{s}` is not a duration"));
        }
        let n: f64 = rest[..digits]
            .parse()
            .map_err(|_| format!("`{s}` is not a duration"))?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let secs = match unit.trim() {
            "ms" => n / 1000.0,
            "s" | "sec" => n,
            "m" | "min" => n * 60.0,
            "h" => n * 3600.0,
            "d" => n * 86400.0,
            "" => {
                return Err(format!(
                    "`{s}` needs a unit (ms, s, m, h or d), e.g. `{s}s`"
                ))
            }
            u => {
                return Err(format!(
                    "unknown duration unit `{u}` in `{s}` (use ms, s, m, h or d)"
                ))
            }
        };
        total += Duration::from_secs_f64(secs);
    }
    Ok(total)
}

/// Parses a human byte size: a number with an optional unit (B, KB, MB, GB, KiB, MiB, GiB).
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let digits = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    if digits == 0 {
        return Err(format!("`{s}` is not a size"));
    }
    let n: f64 = t[..digits]
        .parse()
        .map_err(|_| format!("`{s}` is not a size"))?;
    let mult: u64 = match t[digits..].trim() {
        "" | "B" => 1,
        "KB" | "kB" => 1000,
        "MB" => 1000 * 1000,
        "GB" => 1000 * 1000 * 1000,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        u => {
            return Err(format!(
                "unknown size unit `{u}` in `{s}` (use B, KB, MB, GB, KiB, MiB or GiB)"
            ))
        }
    };
    Ok((n * mult as f64) as u64)
}

/// Formats a duration compactly for logs (`1.2s`, `350ms`).
pub fn fmt_duration(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1000.0;
    if ms < 10.0 && !d.subsec_nanos().is_multiple_of(1_000_000) {
        format!("{ms:.1}ms")
    } else if ms < 1000.0 {
        format!("{ms:.0}ms")
    } else {
        format!("{:.2}s", ms / 1000.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10m"), Ok(Duration::from_secs(600)));
        assert_eq!(parse_duration("1s"), Ok(Duration::from_secs(1)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert!(parse_duration("10").unwrap_err().contains("needs a unit"));
        assert!(parse_duration("5 weeks")
            .unwrap_err()
            .contains("unknown duration unit"));
        assert!(parse_duration("fast").is_err());
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("64MiB"), Ok(64 << 20));
        assert_eq!(parse_size("1GB"), Ok(1_000_000_000));
        assert_eq!(parse_size("4096"), Ok(4096));
        assert!(parse_size("12 parsecs").is_err());
    }
}
