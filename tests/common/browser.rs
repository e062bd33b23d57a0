//! Debian's Chromium, headless: one-shot runs (`--dump-dom`, `--screenshot`) and a page
//! driven through the DevTools protocol over `--remote-debugging-pipe` (file descriptors 3
//! and 4, NUL-separated JSON messages: no extra client needed).

use std::io::{BufRead, BufReader, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// The Chromium binary; None when it is not installed (a panic when
/// LAKECTL_REQUIRE_CHROMIUM is set, as scripts/test.sh does).
pub fn chromium() -> Option<&'static str> {
    let required = std::env::var_os("LAKECTL_REQUIRE_CHROMIUM").is_some();
    match Path::new("/usr/bin/chromium").exists() {
        true => Some("/usr/bin/chromium"),
        false if required => {
            panic!("LAKECTL_REQUIRE_CHROMIUM is set but /usr/bin/chromium is missing")
        }
        false => None,
    }
}

/// A headless Chromium command with a private profile and no network of its own.
pub fn headless(profile: &Path) -> Command {
    let mut c = Command::new(chromium().expect("chromium"));
    c.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
    ])
    .arg(format!("--user-data-dir={}", profile.display()));
    c
}

/// A page in a headless Chromium driven over the DevTools protocol.
pub struct Page {
    child: Child,
    to_browser: std::fs::File,
    from_browser: Receiver<Value>,
    session: String,
    next_id: u64,
    /// Console errors, uncaught exceptions and error log entries (CSP violations among
    /// them) seen so far.
    pub errors: Vec<String>,
    _profile: tempfile::TempDir,
}

impl Page {
    /// Starts Chromium with a window of `width`×`height` and opens a blank page.
    pub fn open(width: u32, height: u32) -> Self {
        let profile = tempfile::tempdir().unwrap();
        let (cmd_r, cmd_w) = std::io::pipe().unwrap();
        let (ev_r, ev_w) = std::io::pipe().unwrap();
        let (cmd_r, ev_w): (OwnedFd, OwnedFd) = (cmd_r.into(), ev_w.into());
        let (r, w) = (cmd_r.as_raw_fd(), ev_w.as_raw_fd());
        let mut c = headless(profile.path());
        c.arg("--remote-debugging-pipe")
            .arg(format!("--window-size={width},{height}"))
            .arg("about:blank")
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // SAFETY: only fcntl, dup2 and close between fork and exec: async-signal-safe.
        unsafe {
            c.pre_exec(move || {
                // Out of the way first: one of the two may be 3 or 4 already.
                let (r2, w2) = (
                    libc::fcntl(r, libc::F_DUPFD, 10),
                    libc::fcntl(w, libc::F_DUPFD, 10),
                );
                if r2 < 0 || w2 < 0 || libc::dup2(r2, 3) < 0 || libc::dup2(w2, 4) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                libc::close(r2);
                libc::close(w2);
                Ok(())
            });
        }
        let child = c.spawn().expect("start chromium");
        drop((cmd_r, ev_w));
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(ev_r);
            let mut msg = Vec::new();
            while reader.read_until(0, &mut msg).is_ok_and(|n| n > 0) {
                msg.pop();
                if let Ok(v) = serde_json::from_slice::<Value>(&msg) {
                    if tx.send(v).is_err() {
                        return;
                    }
                }
                msg.clear();
            }
        });
        let mut page = Self {
            child,
            to_browser: std::fs::File::from(OwnedFd::from(cmd_w)),
            from_browser: rx,
            session: String::new(),
            next_id: 0,
            errors: Vec::new(),
            _profile: profile,
        };
        let target = page.call("Target.createTarget", json!({"url": "about:blank"}));
        let target = target["targetId"].as_str().expect("targetId").to_string();
        let attached = page.call(
            "Target.attachToTarget",
            json!({"targetId": target, "flatten": true}),
        );
        page.session = attached["sessionId"]
            .as_str()
            .expect("sessionId")
            .to_string();
        for domain in ["Page.enable", "Runtime.enable", "Log.enable"] {
            page.call(domain, json!({}));
        }
        page.call(
            "Emulation.setDeviceMetricsOverride",
            json!({"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600}),
        );
        page
    }

    fn note(&mut self, v: &Value) {
        match v["method"].as_str() {
            Some("Runtime.exceptionThrown") => self
                .errors
                .push(format!("exception: {}", v["params"]["exceptionDetails"])),
            Some("Runtime.consoleAPICalled") if v["params"]["type"] == "error" => self
                .errors
                .push(format!("console.error: {}", v["params"]["args"])),
            Some("Log.entryAdded") if v["params"]["entry"]["level"] == "error" => self
                .errors
                .push(format!("log: {}", v["params"]["entry"]["text"])),
            _ => {}
        }
    }

    /// Sends one command and waits for its result (events meanwhile are noted).
    pub fn call(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let mut msg = json!({"id": id, "method": method, "params": params});
        if !self.session.is_empty() {
            msg["sessionId"] = json!(self.session);
        }
        let mut bytes = serde_json::to_vec(&msg).unwrap();
        bytes.push(0);
        self.to_browser
            .write_all(&bytes)
            .expect("write to chromium");
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.from_browser.recv_timeout(left) {
                Ok(v) if v["id"] == id => {
                    assert!(v.get("error").is_none(), "{method}: {v}");
                    return v["result"].clone();
                }
                Ok(v) => self.note(&v),
                Err(RecvTimeoutError::Timeout) => panic!("{method}: no answer from chromium"),
                Err(RecvTimeoutError::Disconnected) => panic!("{method}: chromium exited"),
            }
        }
    }

    /// Opens `url` and waits for its load event.
    pub fn navigate(&mut self, url: &str) {
        self.call("Page.navigate", json!({"url": url}));
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if self.eval("document.readyState") == "complete" {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("{url} did not load");
    }

    /// The value of a JavaScript expression.
    pub fn eval(&mut self, expr: &str) -> Value {
        let r = self.call(
            "Runtime.evaluate",
            json!({"expression": expr, "returnByValue": true}),
        );
        r["result"]["value"].clone()
    }

    /// Events that arrived since the last call, noted.
    pub fn drain(&mut self) {
        while let Ok(v) = self.from_browser.try_recv() {
            self.note(&v);
        }
    }

    /// A PNG of the whole page (its full height) written to `path`.
    pub fn screenshot(&mut self, path: &Path) {
        let r = self.call(
            "Page.captureScreenshot",
            json!({"format": "png", "captureBeyondViewport": true}),
        );
        let data = r["data"].as_str().expect("screenshot data");
        std::fs::write(path, base64(data)).unwrap();
    }
}

impl Drop for Page {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Decodes standard base64.
fn base64(s: &str) -> Vec<u8> {
    let val = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        _ => 63,
    };
    let bytes: Vec<u8> = s
        .bytes()
        .filter(|c| *c != b'=' && !c.is_ascii_whitespace())
        .collect();
    let mut out = Vec::with_capacity(bytes.len() * 3 / 4);
    for chunk in bytes.chunks(4) {
        let v: Vec<u32> = chunk.iter().map(|&c| val(c) as u32).collect();
        let n = v.iter().fold(0u32, |a, x| (a << 6) | x) << (6 * (4 - v.len()));
        let b = n.to_be_bytes();
        out.extend_from_slice(&b[1..v.len()]);
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn base64_decodes() {
        assert_eq!(super::base64("aGVsbG8="), b"hello");
        assert_eq!(super::base64("aGk="), b"hi");
        assert_eq!(super::base64("YWJj"), b"abc");
    }
}
