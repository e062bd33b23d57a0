//! Secrets are never shown. The spec loader registers the value of every option whose key
//! names a secret (password, secret, token, key, credentials); every output edge passes its
//! text through [`text`]: results on stdout ([`outln!`](crate::outln)), logs (the tracing
//! writer [`stderr`]), the final error line, files lakectl writes for people (the HTML
//! dashboard) and the run history. Masking at the edges rather than at each call site
//! covers what no call site controls, such as librdkafka quoting a value in an error.

use std::borrow::Cow;
use std::io::Write;
use std::sync::RwLock;

/// What a secret is replaced by.
pub const MASK: &str = "****";

static SECRETS: RwLock<Vec<String>> = RwLock::new(Vec::new());

/// True when an option key names a secret: its value is registered and never shown.
pub fn is_secret_key(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    ["password", "secret", "token", "credential", "key"]
        .iter()
        .any(|w| k.contains(w))
        && !k.ends_with(".location")
        && !k.ends_with("_location")
}

/// Registers a secret value. Values shorter than 3 characters are not masked: masking them
/// would garble every output while protecting nothing.
pub fn register(value: &str) {
    let v = value.trim();
    if v.chars().count() < 3 {
        return;
    }
    if let Ok(mut s) = SECRETS.write() {
        if !s.iter().any(|x| x == v) {
            s.push(v.to_string());
            // Longest first, so a secret containing another is masked whole.
            s.sort_by_key(|x| std::cmp::Reverse(x.len()));
        }
    }
}

/// `s` with every registered secret replaced by [`MASK`].
pub fn text(s: &str) -> Cow<'_, str> {
    let Ok(secrets) = SECRETS.read() else {
        return Cow::Borrowed(s);
    };
    if !secrets.iter().any(|x| s.contains(x.as_str())) {
        return Cow::Borrowed(s);
    }
    let mut out = s.to_string();
    for x in secrets.iter() {
        out = out.replace(x.as_str(), MASK);
    }
    Cow::Owned(out)
}

/// Prints one line to stdout, secrets masked.
pub fn print_line(s: &str) {
    let mut out = std::io::stdout().lock();
    // A closed pipe (`lakectl … | head`) is not an error worth a panic.
    let _ = writeln!(out, "{}", text(s));
}

/// Prints to stdout without a newline, secrets masked.
pub fn print(s: &str) {
    let mut out = std::io::stdout().lock();
    let _ = write!(out, "{}", text(s));
    let _ = out.flush();
}

/// `println!` with secrets masked: how lakectl prints results.
#[macro_export]
macro_rules! outln {
    () => { $crate::redact::print_line("") };
    ($($t:tt)*) => { $crate::redact::print_line(&format!($($t)*)) };
}

/// `print!` with secrets masked.
#[macro_export]
macro_rules! out {
    ($($t:tt)*) => { $crate::redact::print(&format!($($t)*)) };
}

/// Standard error with secrets masked, for the tracing subscriber (`with_writer(stderr)`):
/// each event is formatted whole, then written in one call.
pub fn stderr() -> RedactingStderr {
    RedactingStderr
}

/// See [`stderr`].
#[derive(Debug, Clone, Copy)]
pub struct RedactingStderr;

impl Write for RedactingStderr {
    /// A log line that cannot be written (stderr a pipe whose reader is gone) is dropped:
    /// failing here would make tracing report it on stderr again, which panics, and a
    /// panicking signal task would never stop the run.
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let s = String::from_utf8_lossy(buf);
        let _ = std::io::stderr().write_all(text(&s).as_bytes());
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        let _ = std::io::stderr().flush();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registered_secrets_are_masked_everywhere_in_a_text() {
        register("hunter2-redact-test");
        register("ab");
        let s = "sasl.password=hunter2-redact-test; again hunter2-redact-test; ab stays";
        assert_eq!(text(s), "sasl.password=****; again ****; ab stays");
        assert!(matches!(text("nothing here"), Cow::Borrowed(_)));
    }

    #[test]
    fn secret_keys() {
        for k in [
            "sasl.password",
            "ssl.key.password",
            "sasl.oauthbearer.client.secret",
            "AWS_SECRET_ACCESS_KEY",
            "aws_session_token",
            "ssl.key.pem",
            "google_application_credentials",
        ] {
            assert!(is_secret_key(k), "{k}");
        }
        for k in [
            "security.protocol",
            "sasl.username",
            "ssl.key.location",
            "bootstrap.servers",
        ] {
            assert!(!is_secret_key(k), "{k}");
        }
    }
}
