use super::GlobalOptions;
use crate::launch::{self, CreateOptions};
use anyhow::Result;
use std::path::PathBuf;

/// Flags shared by `create` and `run`.
#[derive(Debug, Clone, clap::Args)]
pub struct CommonCreate {
    /// Path to the root of the bundle directory
    #[arg(short = 'b', long, default_value = ".")]
    pub bundle: PathBuf,
    /// Path to an AF_UNIX socket which will receive the pty master
    #[arg(long = "console-socket")]
    pub console_socket: Option<PathBuf>,
    /// Path to an AF_UNIX socket which will receive a pidfd of the container's init
    #[arg(long = "pidfd-socket")]
    pub pidfd_socket: Option<PathBuf>,
    /// File to write the process id to
    #[arg(long = "pid-file")]
    pub pid_file: Option<PathBuf>,
    /// Do not use pivot_root to jail the process inside the rootfs
    #[arg(long = "no-pivot")]
    pub no_pivot: bool,
    /// Do not create a new session keyring for the container
    #[arg(long = "no-new-keyring")]
    pub no_new_keyring: bool,
    /// Pass N additional file descriptors (from 3 on) to the container
    #[arg(long = "preserve-fds", default_value_t = 0)]
    pub preserve_fds: i32,
}

impl CommonCreate {
    pub fn options(&self, g: &GlobalOptions, id: &str) -> Result<CreateOptions> {
        if self.preserve_fds < 0 {
            anyhow::bail!("--preserve-fds: must not be negative");
        }
        Ok(CreateOptions {
            id: id.to_string(),
            bundle: self.bundle.clone(),
            console_socket: self.console_socket.clone(),
            pidfd_socket: self.pidfd_socket.clone(),
            pid_file: self.pid_file.clone(),
            no_pivot: self.no_pivot,
            no_new_keyring: self.no_new_keyring,
            preserve_fds: self.preserve_fds,
            own_console: false,
            systemd_cgroup: g.systemd_cgroup,
            rootless: g.rootless()?,
        })
    }
}

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub common: CommonCreate,
    /// Container id
    pub id: String,
}

#[inline(never)]
pub fn run(g: &GlobalOptions, a: Args) -> Result<i32> {
    let root = g.state_root()?;
    launch::create(&root, &a.common.options(g, &a.id)?)?;
    Ok(0)
}
