//! Is this stream a terminal? Asked by the commands (progress bars, redraws) and by the query
//! prompt; a module of its own so that neither depends on the other.

use std::io::IsTerminal;

/// True when stderr is an interactive terminal (progress displays go there).
pub fn stderr_is_tty() -> bool {
    std::io::stderr().is_terminal()
}

/// True when stdout is an interactive terminal.
pub fn stdout_is_tty() -> bool {
    std::io::stdout().is_terminal()
}

/// True when stdin is an interactive terminal.
pub fn stdin_is_tty() -> bool {
    std::io::stdin().is_terminal()
}

/// The width of the terminal stdout is on, in columns: `COLUMNS` when set, else the
/// terminal's own; `None` when stdout is not a terminal and `COLUMNS` is unset.
pub fn stdout_width() -> Option<usize> {
    if let Some(c) = std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.trim().parse::<usize>().ok())
        .filter(|c| *c > 0)
    {
        return Some(c);
    }
    if !stdout_is_tty() {
        return None;
    }
    // SAFETY: TIOCGWINSZ writes a `winsize` into the struct we pass, and nothing else.
    let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
    let ok = unsafe { libc::ioctl(libc::STDOUT_FILENO, libc::TIOCGWINSZ, &mut ws) } == 0;
    (ok && ws.ws_col > 0).then_some(usize::from(ws.ws_col))
}
