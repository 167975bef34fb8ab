//! The async runtime both front ends run on, and the signals that ask a run to end: SIGINT
//! (Ctrl-C, `kill -INT`), SIGTERM (`kill`, `docker stop`, `systemctl stop`, a cluster's
//! preemption) and SIGHUP (the terminal closed, the ssh link dropped).
//!
//! They arrive as one stream of [`Interrupt`]s, numbered: the first asks the front end to stop
//! after the batch in flight, save and exit as the first Ctrl-C does; any later one asks it to
//! exit at once with [`Signal::exit_code`] (128 + the signal's number). A signal that was
//! ignored when the process started (`nohup`, a shell's background job) is not listened to:
//! installing a handler would un-ignore it.

use std::io::Write;

/// A signal that ends a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// SIGINT: Ctrl-C at a shell, or `kill -INT`.
    Interrupt,
    /// SIGTERM: `kill`, `docker stop`, `systemctl stop`, preemption.
    Terminate,
    /// SIGHUP: the terminal went away.
    Hangup,
}

impl Signal {
    pub const ALL: [Signal; 3] = [Signal::Interrupt, Signal::Terminate, Signal::Hangup];

    /// The signal's number (the POSIX values, the same on Linux and macOS).
    pub fn number(self) -> i32 {
        match self {
            Signal::Hangup => 1,
            Signal::Interrupt => 2,
            Signal::Terminate => 15,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Signal::Interrupt => "SIGINT",
            Signal::Terminate => "SIGTERM",
            Signal::Hangup => "SIGHUP",
        }
    }

    /// The exit status of a process that quits at once on this signal, as a shell reports a
    /// process killed by it: 128 + its number (130, 143, 129).
    pub fn exit_code(self) -> u8 {
        128 + self.number() as u8
    }
}

/// One signal received.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Interrupt {
    pub signal: Signal,
    /// No signal came before it: stop and save. A later one quits at once.
    pub first: bool,
}

/// The current-thread runtime either front end runs its event loop on (the training runs on
/// its own thread; blocking file work on the runtime's blocking threads).
pub fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))
}

/// Whether `signal` is ignored (its disposition is `SIG_IGN`), asked without changing it.
/// Before [`Interrupts::listen`] this is what the process was started with.
#[cfg(unix)]
#[allow(unsafe_code)]
pub fn ignored(signal: Signal) -> bool {
    // SAFETY: `sigaction` with a null new action only reads the current disposition into
    // `old`, a plain C struct we own on the stack for which all zero bytes are a valid value;
    // nothing keeps the pointer after the call.
    let (status, old) = unsafe {
        let mut old: libc::sigaction = std::mem::zeroed();
        let status = libc::sigaction(signal.number(), std::ptr::null(), &raw mut old);
        (status, old)
    };
    status == 0 && old.sa_sigaction == libc::SIG_IGN
}

#[cfg(not(unix))]
pub fn ignored(_signal: Signal) -> bool {
    false
}

/// The signals listened to, in the order they arrive.
pub struct Interrupts {
    #[cfg(unix)]
    streams: Vec<(Signal, tokio::signal::unix::Signal)>,
    received: u32,
    /// The signals not listened to because they were ignored at the start.
    ignored: Vec<Signal>,
}

impl Interrupts {
    /// Starts listening to every signal of [`Signal::ALL`] that is not ignored. Must be called
    /// inside the runtime (from [`runtime`]). A signal whose handler cannot be installed is
    /// left as it was.
    pub fn listen() -> Interrupts {
        let ignored: Vec<Signal> = Signal::ALL
            .into_iter()
            .filter(|signal| self::ignored(*signal))
            .collect();
        #[cfg(unix)]
        let streams = {
            use tokio::signal::unix::{SignalKind, signal};
            Signal::ALL
                .into_iter()
                .filter(|wanted| !ignored.contains(wanted))
                .filter_map(|wanted| {
                    let kind = SignalKind::from_raw(wanted.number());
                    signal(kind).ok().map(|stream| (wanted, stream))
                })
                .collect()
        };
        Interrupts {
            #[cfg(unix)]
            streams,
            received: 0,
            ignored,
        }
    }

    /// The signals left ignored, as the process was started.
    pub fn ignored(&self) -> &[Signal] {
        &self.ignored
    }

    /// The next signal. Pends for ever when nothing is listened to.
    pub async fn recv(&mut self) -> Interrupt {
        let signal = self.next_signal().await;
        self.received += 1;
        Interrupt {
            signal,
            first: self.received == 1,
        }
    }

    #[cfg(unix)]
    async fn next_signal(&mut self) -> Signal {
        use std::task::Poll;
        std::future::poll_fn(|cx| {
            for (signal, stream) in &mut self.streams {
                if let Poll::Ready(Some(())) = stream.poll_recv(cx) {
                    return Poll::Ready(*signal);
                }
            }
            Poll::Pending
        })
        .await
    }

    #[cfg(not(unix))]
    async fn next_signal(&mut self) -> Signal {
        match tokio::signal::ctrl_c().await {
            Ok(()) => Signal::Interrupt,
            Err(_) => std::future::pending().await,
        }
    }
}

/// Exits the process at once with `signal`'s [`Signal::exit_code`], what a second signal asks
/// for. The training thread may be inside libtorch: exit handlers (libtorch's static
/// destructors among them) are not run, so that they cannot race with it. What was printed is
/// flushed first.
pub fn exit_at_once(signal: Signal) -> ! {
    let _ = std::io::stdout().lock().flush();
    let _ = std::io::stderr().lock().flush();
    let code = signal.exit_code();
    #[cfg(unix)]
    #[allow(unsafe_code)]
    // SAFETY: `_exit` ends the process without running exit handlers or destructors; nothing in
    // this process relies on them for correctness (files are written whole and renamed into
    // place, so an interrupted write leaves only a temporary file behind).
    unsafe {
        libc::_exit(i32::from(code))
    }
    #[cfg(not(unix))]
    std::process::exit(i32::from(code))
}

/// Writes a line to standard output and ignores failure: printing must not panic when the
/// terminal is gone (`println!` does, on EIO after a hangup).
pub fn print_out(text: &str) {
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{text}");
    let _ = stdout.flush();
}

/// As [`print_out`], on standard error.
pub fn print_err(text: &str) {
    let mut stderr = std::io::stderr().lock();
    let _ = writeln!(stderr, "{text}");
    let _ = stderr.flush();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_are_128_plus_the_signal_number() {
        assert_eq!(Signal::Interrupt.exit_code(), 130);
        assert_eq!(Signal::Terminate.exit_code(), 143);
        assert_eq!(Signal::Hangup.exit_code(), 129);
        #[cfg(unix)]
        for signal in Signal::ALL {
            let number = match signal {
                Signal::Interrupt => libc::SIGINT,
                Signal::Terminate => libc::SIGTERM,
                Signal::Hangup => libc::SIGHUP,
            };
            assert_eq!(signal.number(), number);
        }
    }

    /// An ignored signal reads as ignored, and a handled one does not. Run in a child process
    /// of its own (this test binary, filtered to one test), so that changing a disposition
    /// cannot touch the other tests' threads.
    #[cfg(unix)]
    #[test]
    fn an_ignored_signal_is_reported_as_ignored() {
        const CHILD: &str = "ALEXNET_TUI_DISPOSITION_CHILD";
        if std::env::var_os(CHILD).is_some() {
            // The child, started by nohup: SIGHUP ignored from the start. (SIGINT may be ignored
            // too, when the tests run as a background job of a shell without job control.)
            assert!(ignored(Signal::Hangup), "SIGHUP ignored at start");
            assert!(!ignored(Signal::Terminate), "SIGTERM at its default");
            let runtime = runtime().expect("runtime");
            runtime.block_on(async {
                let interrupts = Interrupts::listen();
                assert!(interrupts.ignored().contains(&Signal::Hangup));
                assert!(!interrupts.ignored().contains(&Signal::Terminate));
            });
            // Still ignored after listening; SIGTERM now has a handler, not SIG_IGN.
            assert!(ignored(Signal::Hangup));
            assert!(!ignored(Signal::Terminate));
            return;
        }
        let status = std::process::Command::new("nohup")
            .arg(std::env::current_exe().expect("test binary"))
            .args([
                "--exact",
                "interrupts::tests::an_ignored_signal_is_reported_as_ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD, "1")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .output()
            .expect("run the test binary under nohup");
        assert!(
            status.status.success(),
            "{}\n{}",
            String::from_utf8_lossy(&status.stdout),
            String::from_utf8_lossy(&status.stderr)
        );
        let stdout = String::from_utf8_lossy(&status.stdout);
        assert!(stdout.contains("1 passed"), "{stdout}");
    }
}
