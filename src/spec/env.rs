//! `${VAR}` and `${VAR:-default}` substitution in the string values of a spec.

use serde_yaml::Value;

/// Substitutes variables in `s` using `lookup`. `$$` is a literal `$`.
/// Returns the undefined variables (without default) as errors.
pub fn substitute(s: &str, lookup: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(r) = after.strip_prefix('$') {
            out.push('$');
            rest = r;
            continue;
        }
        let Some(body) = after.strip_prefix('{') else {
            out.push('$');
            rest = after;
            continue;
        };
        let end = body
            .find('}')
            .ok_or_else(|| format!("unterminated `${{` in `{s}`"))?;
        let expr = &body[..end];
        let (name, default) = match expr.split_once(":-") {
            Some((n, d)) => (n, Some(d)),
            None => (expr, None),
        };
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(format!("`${{{expr}}}` is not a valid variable reference"));
        }
        match (
            lookup(name).filter(|v| !v.is_empty() || default.is_none()),
            default,
        ) {
            (Some(v), _) => out.push_str(&v),
            (None, Some(d)) => out.push_str(d),
            (None, None) => {
                return Err(format!(
                    "environment variable `{name}` is not set and has no default"
                ))
            }
        }
        rest = &body[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Substitutes in every string of `value`, calling `on_error(path, message)` for failures.
/// The result is always text, never re-read as YAML: a secret such as `0x1F` or `yes` stays
/// exactly what the environment holds. Keys that want a number or a boolean accept text
/// ([`super::scalar`]).
pub fn substitute_tree(
    value: &mut Value,
    path: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
    on_error: &mut dyn FnMut(&str, String),
) {
    match value {
        Value::String(s) if s.contains('$') => match substitute(s, lookup) {
            Ok(new) => *value = Value::String(new),
            Err(e) => on_error(path, e),
        },
        Value::Sequence(items) => {
            for (i, v) in items.iter_mut().enumerate() {
                substitute_tree(v, &super::source_map::join_index(path, i), lookup, on_error);
            }
        }
        Value::Mapping(m) => {
            for (k, v) in m.iter_mut() {
                let key = k.as_str().unwrap_or_default().to_string();
                substitute_tree(
                    v,
                    &super::source_map::join_key(path, &key),
                    lookup,
                    on_error,
                );
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "SET" => Some("value".into()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    #[test]
    fn substitutes_with_defaults() {
        assert_eq!(substitute("${SET}", &env), Ok("value".to_string()));
        assert_eq!(
            substitute("a-${UNSET:-dflt}-b", &env),
            Ok("a-dflt-b".to_string())
        );
        assert_eq!(substitute("${SET:-dflt}", &env), Ok("value".to_string()));
        assert_eq!(substitute("${EMPTY:-dflt}", &env), Ok("dflt".to_string()));
        assert_eq!(substitute("cost $$5", &env), Ok("cost $5".to_string()));
        assert_eq!(substitute("plain $x", &env), Ok("plain $x".to_string()));
    }

    #[test]
    fn reports_undefined_and_malformed() {
        assert!(substitute("${UNSET}", &env)
            .unwrap_err()
            .contains("`UNSET` is not set"));
        assert!(substitute("${OPEN", &env)
            .unwrap_err()
            .contains("unterminated"));
        assert!(substitute("${a b}", &env)
            .unwrap_err()
            .contains("not a valid"));
    }

    #[test]
    fn substitution_gives_text_never_yaml() {
        let hex = |n: &str| match n {
            "P" => Some("0x1F".to_string()),
            "Y" => Some("yes".to_string()),
            _ => None,
        };
        let mut v: Value =
            serde_yaml::from_str("n: ${N:-100}\ns: x${N:-1}\np: ${P}\ny: ${Y}").unwrap();
        substitute_tree(&mut v, "", &hex, &mut |_, _| panic!());
        assert_eq!(v["n"], Value::String("100".into()));
        assert_eq!(v["s"], Value::String("x1".into()));
        assert_eq!(v["p"], Value::String("0x1F".into()));
        assert_eq!(v["y"], Value::String("yes".into()));
    }
}
