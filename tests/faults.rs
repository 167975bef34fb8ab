//! Faults a run must survive, each injected into the real binary on a tiny real run.

#[path = "faults/support.rs"]
mod support;

#[path = "faults/signals.rs"]
mod signals;

use std::time::Instant;

#[test]
fn signals_are_survived() {
    let started = Instant::now();
    let rows = signals::rows();
    support::print_table("Signals", &rows, started.elapsed());
    for row in &rows {
        assert!(row.ok(), "{}: {:?}", row.fault, row.problems);
    }
}
