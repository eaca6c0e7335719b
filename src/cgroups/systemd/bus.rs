//! The method calls the driver makes to systemd's manager (`wire.rs` speaks the protocol).
//! One connection per command; the parent never forks after it, and exec joins the unit's
//! cgroup by path without the bus.

use super::properties::{PropValue, Property};
use super::wire::{Arg, Bus, Reply};
use super::{SystemdUnit, UnitExtras};
use crate::error::{Error, Result};
use std::time::{Duration, Instant};

const DESTINATION: &str = "org.freedesktop.systemd1";
const MANAGER_PATH: &str = "/org/freedesktop/systemd1";
const MANAGER: &str = "org.freedesktop.systemd1.Manager";
/// How long systemd may take to start or stop a unit (runc's bound).
const JOB_TIMEOUT: Duration = Duration::from_secs(30);

struct Manager {
    bus: Bus,
}

impl Manager {
    /// The manager `unit` belongs to: the system's, or the user's own instance.
    fn of(unit: &SystemdUnit) -> Result<Manager> {
        if unit.user {
            Manager::user()
        } else {
            Manager::connect()
        }
    }

    /// The user's systemd instance (`systemd --user`, started by user@UID.service), on the
    /// user's session bus.
    fn user() -> Result<Manager> {
        let bus = Bus::session().map_err(|e| {
            Error::other(format!(
                "--systemd-cgroup (rootless): cannot reach the user's systemd instance on the \
                 session bus: {e} (is user@UID.service running, with dbus-user-session?)"
            ))
        })?;
        Ok(Manager { bus })
    }

    fn connect() -> Result<Manager> {
        if !super::systemd_is_init() {
            return Err(Error::other(
                "--systemd-cgroup: systemd is not running as init on this host (no /run/systemd/system)",
            ));
        }
        let bus = Bus::system().map_err(|e| {
            Error::other(format!(
                "--systemd-cgroup: cannot reach systemd on the system bus: {e}"
            ))
        })?;
        Ok(Manager { bus })
    }

    fn call(&mut self, unit: &str, method: &str, args: &[Arg]) -> Result<Reply> {
        self.bus
            .call(DESTINATION, MANAGER_PATH, MANAGER, method, args)
            .map_err(|e| Error::other(format!("systemd: {method} {unit}: {e}")))
    }

    /// The call's value, or its D-Bus error as ours.
    fn expect(&mut self, unit: &str, method: &str, args: &[Arg]) -> Result<Option<String>> {
        match self.call(unit, method, args)? {
            Reply::Value(v) => Ok(v),
            Reply::Error { name, message } => Err(refused(method, unit, &name, &message)),
        }
    }

    /// systemd's major version (the manager's `Version` property), None if unreadable.
    fn version(&mut self) -> Option<u32> {
        super::major_version(&self.property("Version").ok()?)
    }

    /// A string property of the manager.
    fn property(&mut self, name: &str) -> Result<String> {
        let reply = self
            .bus
            .call(
                DESTINATION,
                MANAGER_PATH,
                "org.freedesktop.DBus.Properties",
                "Get",
                &[Arg::Str(MANAGER), Arg::Str(name)],
            )
            .map_err(|e| Error::other(format!("systemd: read the manager's {name}: {e}")))?;
        match reply {
            Reply::Value(Some(v)) => Ok(v),
            Reply::Value(None) => Err(Error::other(format!(
                "systemd: the manager's {name} is not a string"
            ))),
            Reply::Error { name: e, message } => Err(refused("Get", name, &e, &message)),
        }
    }

    fn reset_failed(&mut self, unit: &str) {
        let _ = self.call(unit, "ResetFailedUnit", &[Arg::Str(unit)]);
    }

    /// The unit's ActiveState, or None once systemd has unloaded it.
    fn active_state(&mut self, unit: &str) -> Result<Option<String>> {
        let path = match self.call(unit, "GetUnit", &[Arg::Str(unit)])? {
            Reply::Value(Some(path)) => path,
            Reply::Error { name, .. } if name.ends_with(".NoSuchUnit") => return Ok(None),
            Reply::Error { name, message } => {
                return Err(refused("GetUnit", unit, &name, &message));
            }
            Reply::Value(None) => {
                return Err(Error::other(format!("systemd: GetUnit {unit}: no path")));
            }
        };
        let reply = self
            .bus
            .call(
                DESTINATION,
                &path,
                "org.freedesktop.DBus.Properties",
                "Get",
                &[
                    Arg::Str("org.freedesktop.systemd1.Unit"),
                    Arg::Str("ActiveState"),
                ],
            )
            .map_err(|e| Error::other(format!("systemd: read the state of {unit}: {e}")))?;
        match reply {
            Reply::Value(state) => Ok(Some(state.unwrap_or_default())),
            Reply::Error { name, .. } if name.ends_with(".UnknownObject") => Ok(None),
            Reply::Error { name, message } => {
                Err(refused("Get ActiveState", unit, &name, &message))
            }
        }
    }

    /// Polls the unit until its state is one of `want` (an unloaded unit counts as
    /// `inactive`); `failed` when not wanted, or [`JOB_TIMEOUT`], is an error.
    fn wait_for_state(&mut self, unit: &str, want: &[&str]) -> Result<()> {
        let start = Instant::now();
        let mut delay = Duration::from_micros(200);
        loop {
            let state = self
                .active_state(unit)?
                .unwrap_or_else(|| "inactive".to_string());
            if want.contains(&state.as_str()) {
                return Ok(());
            }
            if state == "failed" {
                return Err(Error::other(format!("systemd: unit {unit} failed")));
            }
            if start.elapsed() > JOB_TIMEOUT {
                return Err(Error::other(format!(
                    "systemd: unit {unit} still {state} after {}s",
                    JOB_TIMEOUT.as_secs()
                )));
            }
            std::thread::sleep(delay);
            delay = (delay * 2).min(Duration::from_millis(20));
        }
    }
}

fn refused(method: &str, unit: &str, name: &str, message: &str) -> Error {
    Error::other(format!("systemd: {method} {unit}: {name}: {message}"))
}

/// Creates the container's unit with `pid` in it and waits until systemd has started it.
/// A unit of that name left failed by an earlier container is reset and the start retried
/// once, as runc does. `unified` says the host is pure cgroup v2, where the io controller's
/// accounting is `IOAccounting`; with v1 controllers it is `BlockIOAccounting` (runc's
/// choice too).
pub fn start_unit(
    unit: &SystemdUnit,
    pid: u32,
    description: &str,
    unified: bool,
    extras: &UnitExtras,
) -> Result<()> {
    let mut m = Manager::of(unit)?;
    let io_accounting = if unified {
        "IOAccounting"
    } else {
        "BlockIOAccounting"
    };
    let mut props: Vec<Property> = vec![
        (
            "Description".into(),
            PropValue::Str(description.to_string()),
        ),
        ("PIDs".into(), PropValue::U32s(vec![pid])),
        ("MemoryAccounting".into(), PropValue::Bool(true)),
        ("CPUAccounting".into(), PropValue::Bool(true)),
        (io_accounting.into(), PropValue::Bool(true)),
        ("TasksAccounting".into(), PropValue::Bool(true)),
        ("DefaultDependencies".into(), PropValue::Bool(false)),
    ];
    if unit.name.ends_with(".slice") {
        // A slice cannot sit in a slice by `Slice=`; it is a weak dependency of its parent.
        props.push(("Wants".into(), PropValue::Strs(vec![unit.slice.clone()])));
    } else {
        props.push(("Slice".into(), PropValue::Str(unit.slice.clone())));
        props.push(("Delegate".into(), PropValue::Bool(true)));
    }
    // After ours, as runc appends them: a config may override what we chose.
    props.extend(extras.properties.iter().cloned());
    // Asked for only when the config wants an OOM policy: a round trip the common path skips.
    if extras.oom_group.is_some()
        && let Some(policy) = extras.oom_policy(m.version())
    {
        props.push(policy);
    }
    let args = [
        Arg::Str(&unit.name),
        Arg::Str("replace"),
        Arg::Props(&props),
        Arg::NoAuxUnits,
    ];
    let name = unit.name.as_str();
    match m.call(name, "StartTransientUnit", &args)? {
        Reply::Value(_) => {}
        Reply::Error { name: e, .. } if e.ends_with(".UnitExists") => {
            m.reset_failed(name);
            m.expect(name, "StartTransientUnit", &args)?;
        }
        Reply::Error { name: e, message } => {
            return Err(refused("StartTransientUnit", name, &e, &message));
        }
    }
    m.wait_for_state(name, &["active"])
        .inspect_err(|_| m.reset_failed(name))
}

/// The cgroup of the user's systemd instance (its `ControlGroup`, such as
/// `/user.slice/user-1000.slice/user@1000.service`): a rootless unit's slices are below it.
pub fn user_manager_cgroup() -> Result<std::path::PathBuf> {
    Ok(std::path::PathBuf::from(
        Manager::user()?.property("ControlGroup")?,
    ))
}

/// Sets properties of the running unit (`update`, and limits after create), for this boot
/// only (`runtime`), as runc does.
pub fn set_unit_properties(unit: &SystemdUnit, props: &[Property]) -> Result<()> {
    if props.is_empty() {
        return Ok(());
    }
    let mut m = Manager::of(unit)?;
    m.expect(
        &unit.name,
        "SetUnitProperties",
        &[Arg::Str(&unit.name), Arg::Bool(true), Arg::Props(props)],
    )
    .map(|_| ())
}

/// Stops the container's unit and waits until systemd has removed it. A unit that is gone
/// already (its processes all exited) is fine.
pub fn stop_unit(unit: &SystemdUnit) -> Result<()> {
    let mut m = Manager::of(unit)?;
    let name = unit.name.as_str();
    match m.call(name, "StopUnit", &[Arg::Str(name), Arg::Str("replace")])? {
        Reply::Value(_) => {}
        Reply::Error { name: e, .. } if e.ends_with(".NoSuchUnit") => return Ok(()),
        Reply::Error { name: e, message } => return Err(refused("StopUnit", name, &e, &message)),
    }
    let result = m.wait_for_state(name, &["inactive", "failed"]);
    // A failed scope stays loaded until reset; a container's unit must not outlive it.
    m.reset_failed(name);
    result
}
