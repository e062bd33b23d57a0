//! Numbers and booleans that may also be written as text. `${VAR}` substitution always gives
//! text (a password `0x1F` stays `0x1F`, never 31); the keys that want a number or a boolean
//! read that text here, strictly: decimal digits, or `true`/`false`.

use serde::{Deserialize, Deserializer};

#[derive(Deserialize)]
#[serde(untagged)]
enum Scalar<T> {
    Typed(T),
    Text(String),
}

fn from_text<T: std::str::FromStr, E: serde::de::Error>(s: &str, what: &str) -> Result<T, E> {
    s.trim()
        .parse()
        .map_err(|_| E::custom(format!("`{s}` is not {what}")))
}

/// An optional non-negative integer, as a number or decimal text.
pub fn opt_u32<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    Ok(match Option::<Scalar<u32>>::deserialize(d)? {
        None => None,
        Some(Scalar::Typed(n)) => Some(n),
        Some(Scalar::Text(s)) => Some(from_text(&s, "a whole number")?),
    })
}

/// An optional integer, as a number or decimal text.
pub fn opt_i64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    Ok(match Option::<Scalar<i64>>::deserialize(d)? {
        None => None,
        Some(Scalar::Typed(n)) => Some(n),
        Some(Scalar::Text(s)) => Some(from_text(&s, "a whole number")?),
    })
}

/// An optional boolean, as a boolean or the text `true`/`false`.
pub fn opt_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    Ok(match Option::<Scalar<bool>>::deserialize(d)? {
        None => None,
        Some(Scalar::Typed(b)) => Some(b),
        Some(Scalar::Text(s)) => Some(from_text(&s, "true or false")?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct T {
        #[serde(default, deserialize_with = "opt_i64")]
        n: Option<i64>,
        #[serde(default, deserialize_with = "opt_bool")]
        b: Option<bool>,
    }

    #[test]
    fn numbers_and_booleans_as_text() {
        let t: T = serde_yaml::from_str("n: '100'\nb: 'false'").unwrap();
        assert_eq!((t.n, t.b), (Some(100), Some(false)));
        let t: T = serde_yaml::from_str("n: 7\nb: true").unwrap();
        assert_eq!((t.n, t.b), (Some(7), Some(true)));
        let t: T = serde_yaml::from_str("{}").unwrap();
        assert_eq!((t.n, t.b), (None, None));
        let e = serde_yaml::from_str::<T>("n: '0x1F'")
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("`0x1F` is not a whole number"), "{e}");
    }
}
