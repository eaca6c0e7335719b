//! Test-only injection points for races: a unit test registers what happens between two steps
//! of the code under test (a node swapped for a symlink, a FIFO planted), so the race is
//! deterministic instead of timed. Compiled into unit tests only; release and debug binaries
//! have no such points.

use std::cell::RefCell;

type Hook = (&'static str, Box<dyn FnMut()>);

thread_local! {
    static HOOK: RefCell<Option<Hook>> = const { RefCell::new(None) };
}

/// Runs `f` when the code under test (on this thread) reaches `point`.
pub fn set(point: &'static str, f: impl FnMut() + 'static) {
    HOOK.with(|h| *h.borrow_mut() = Some((point, Box::new(f))));
}

/// Called by the code under test between the two steps of a race.
pub fn hit(point: &str) {
    HOOK.with(|h| {
        if let Some((p, f)) = h.borrow_mut().as_mut()
            && *p == point
        {
            f();
        }
    });
}
