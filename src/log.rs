//! Logging as runc does it: to `--log FILE` (or stderr) in `text` or `json` format.
//! containerd's shim reads the last `{"level":"error","msg":...}` line of the log file as the
//! error of a failed command, so the JSON shape is part of our contract.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::Path;
use std::sync::Mutex;
use std::sync::OnceLock;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Debug,
    Info,
    Warn,
    Error,
}

impl Level {
    fn as_str(self) -> &'static str {
        match self {
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warn => "warning",
            Level::Error => "error",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
}

struct Logger {
    format: Format,
    min: Level,
    file: Option<Mutex<std::fs::File>>,
}

static LOGGER: OnceLock<Logger> = OnceLock::new();

/// Sets up the global logger. `file` of `None` means stderr.
pub fn init(file: Option<&Path>, format: Format, debug: bool) -> std::io::Result<()> {
    let file = match file {
        Some(p) => Some(Mutex::new(
            // 0644 as runc's log file (umask applies), close-on-exec so no container process
            // inherits it.
            {
                use std::os::unix::fs::OpenOptionsExt;
                OpenOptions::new()
                    .create(true)
                    .append(true)
                    .mode(0o644)
                    .custom_flags(libc::O_CLOEXEC)
                    .open(p)?
            },
        )),
        None => None,
    };
    let min = if debug { Level::Debug } else { Level::Info };
    let _ = LOGGER.set(Logger { format, min, file });
    Ok(())
}

/// True when log lines go to a file rather than stderr.
pub fn logs_to_file() -> bool {
    LOGGER.get().is_some_and(|l| l.file.is_some())
}

pub fn log(level: Level, msg: &str) {
    let Some(logger) = LOGGER.get() else {
        if level >= Level::Warn {
            eprintln!("{msg}");
        }
        return;
    };
    if level < logger.min {
        return;
    }
    let line = format_line(logger.format, level, msg, &now_rfc3339());
    match &logger.file {
        Some(f) => {
            if let Ok(mut f) = f.lock() {
                let _ = f.write_all(line.as_bytes());
            }
        }
        None => {
            let _ = std::io::stderr().write_all(line.as_bytes());
        }
    }
}

fn format_line(format: Format, level: Level, msg: &str, time: &str) -> String {
    match format {
        Format::Json => {
            let v = serde_json::json!({"level": level.as_str(), "msg": msg, "time": time});
            format!("{v}\n")
        }
        Format::Text => format!(
            "time=\"{time}\" level={} msg={}\n",
            level.as_str(),
            serde_json::Value::String(msg.to_string())
        ),
    }
}

fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

pub fn debug(msg: impl AsRef<str>) {
    log(Level::Debug, msg.as_ref());
}

pub fn warn(msg: impl AsRef<str>) {
    log(Level::Warn, msg.as_ref());
}

pub fn error(msg: impl AsRef<str>) {
    log(Level::Error, msg.as_ref());
}

/// Elapsed-time markers for `--debug`: where a command spends its time.
pub struct Span {
    what: String,
    start: std::time::Instant,
}

impl Span {
    pub fn new(what: impl Into<String>) -> Span {
        Span {
            what: what.into(),
            start: std::time::Instant::now(),
        }
    }

    pub fn step(&self, name: &str) {
        debug(format!(
            "{}: {name} at {:.2} ms",
            self.what,
            self.start.elapsed().as_secs_f64() * 1000.0
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_line_has_containerd_shape() {
        let line = format_line(Format::Json, Level::Error, "boom \"x\"", "T");
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["level"], "error");
        assert_eq!(v["msg"], "boom \"x\"");
        assert_eq!(v["time"], "T");
        assert!(line.ends_with('\n'));
    }

    #[test]
    fn text_line_quotes_message() {
        let line = format_line(Format::Text, Level::Warn, "a b", "T");
        assert_eq!(line, "time=\"T\" level=warning msg=\"a b\"\n");
    }
}
