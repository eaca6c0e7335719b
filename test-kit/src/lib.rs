//! The test kit shared by corral's end-to-end tests (`tests/`) and the conformance suite
//! (`runtime-tools-tests/`): a runtime under test with a private `--root`, command capture
//! that never hangs on a container holding a pipe, busybox bundles with the config `runc
//! spec` writes, the host facts tests branch on, and [`skip!`], which makes a skipped test
//! visible. It drives runtimes through their command line only and never links corral, so
//! the conformance suite stays runnable against any runtime.

pub mod bundle;
pub mod host;
pub mod run;

pub use bundle::{Applets, Bundle, busybox_rootfs, runc_spec_config};
pub use host::{cgroup_mounts, cgroup_v2_host};
pub use run::{Captured, Runtime, capture};

/// Ends the current test as skipped, saying why: on stderr, and as a line
/// `TEST: REASON` appended to the file `CORRAL_SKIP_LOG` names, which `hack/test.sh` prints
/// after each lane, so a lane that skips is seen. Use it where the host lacks what a test
/// needs, never to hide a failure.
#[macro_export]
macro_rules! skip {
    ($($reason:tt)+) => {{
        $crate::record_skip(&format!($($reason)+));
        return;
    }};
}

/// What [`skip!`] does before it returns.
pub fn record_skip(reason: &str) {
    let thread = std::thread::current();
    let test = thread.name().unwrap_or("(unnamed test)");
    eprintln!("skipped {test}: {reason}");
    if let Some(path) = std::env::var_os("CORRAL_SKIP_LOG") {
        use std::io::Write;
        let line = format!("{test}: {reason}\n");
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
        {
            let _ = f.write_all(line.as_bytes());
        }
    }
}
