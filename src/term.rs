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
