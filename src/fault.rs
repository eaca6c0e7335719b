//! Fault points: named steps between the two halves of a change (state written, cgroup
//! written, freeze and thaw) where a debug build of corral kills itself with SIGKILL when
//! `CORRAL_FAULT` names the step. Tests use them to stop a command exactly there and check
//! that `state` is still truthful and `delete --force` still removes everything (issue 23).
//! Release builds (no `debug_assertions`) have no such points and read no such variable.

/// Dies here if `CORRAL_FAULT` names this point, or stops (SIGSTOP) if `CORRAL_FAULT_STOP`
/// does, so that a test can kill the container's init meanwhile and then let corral go on
/// (debug builds only).
#[cfg(debug_assertions)]
pub fn point(name: &str) {
    use nix::sys::signal::{Signal, raise};
    if std::env::var_os("CORRAL_FAULT").is_some_and(|v| v == name) {
        let _ = raise(Signal::SIGKILL);
    }
    if std::env::var_os("CORRAL_FAULT_STOP").is_some_and(|v| v == name) {
        let _ = raise(Signal::SIGSTOP);
    }
}

#[cfg(not(debug_assertions))]
#[inline(always)]
pub fn point(_name: &str) {}

/// [`point`] named `command:step`, for steps that `create` and `exec` share (the launch
/// protocol's driver).
#[cfg(debug_assertions)]
pub fn step(command: &str, step: &str) {
    point(&format!("{command}:{step}"));
}

#[cfg(not(debug_assertions))]
#[inline(always)]
pub fn step(_command: &str, _step: &str) {}
