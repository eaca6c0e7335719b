use super::GlobalOptions;
use crate::checkpoint::{self, CriuOptions};
use anyhow::Result;
use std::path::PathBuf;

/// Flags `checkpoint` and `restore` share (runc's).
#[derive(Debug, Clone, clap::Args)]
pub struct Common {
    /// Path for the CRIU image files [default: ./checkpoint]
    #[arg(long = "image-path")]
    pub image_path: Option<PathBuf>,
    /// Path for CRIU's work files and log [default: the image path]
    #[arg(long = "work-path")]
    pub work_path: Option<PathBuf>,
    /// Allow open TCP connections
    #[arg(long = "tcp-established")]
    pub tcp_established: bool,
    /// Allow external unix sockets
    #[arg(long = "ext-unix-sk")]
    pub ext_unix_sk: bool,
    /// Allow shell jobs
    #[arg(long = "shell-job")]
    pub shell_job: bool,
    /// Handle file locks, for safety
    #[arg(long = "file-locks")]
    pub file_locks: bool,
    /// Use userfaultfd to restore memory pages lazily
    #[arg(long = "lazy-pages")]
    pub lazy_pages: bool,
    /// cgroups mode: soft, full, strict or ignore [default: soft]
    #[arg(long = "manage-cgroups-mode")]
    pub manage_cgroups_mode: Option<String>,
    /// Create a namespace, but do not restore its properties (network only)
    #[arg(long = "empty-ns")]
    pub empty_ns: Vec<String>,
    /// Enable auto deduplication of memory images
    #[arg(long = "auto-dedup")]
    pub auto_dedup: bool,
}

impl Common {
    pub fn options(&self, g: &GlobalOptions) -> Result<CriuOptions> {
        let image_path = match &self.image_path {
            Some(p) => p.clone(),
            None => std::env::current_dir()?.join("checkpoint"),
        };
        Ok(CriuOptions {
            criu: g.criu.clone(),
            image_path,
            work_path: self.work_path.clone(),
            tcp_established: self.tcp_established,
            ext_unix_sk: self.ext_unix_sk,
            shell_job: self.shell_job,
            file_locks: self.file_locks,
            lazy_pages: self.lazy_pages,
            manage_cgroups_mode: self
                .manage_cgroups_mode
                .as_deref()
                .filter(|m| !m.is_empty())
                .map(checkpoint::parse_cgroups_mode)
                .transpose()?,
            empty_ns: checkpoint::parse_empty_ns(&self.empty_ns)?,
            auto_dedup: self.auto_dedup,
            ..Default::default()
        })
    }
}

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub common: Common,
    /// Path of a previous (pre-)dump, relative to the image path
    #[arg(long = "parent-path")]
    pub parent_path: Option<PathBuf>,
    /// Leave the processes running after the checkpoint
    #[arg(long = "leave-running")]
    pub leave_running: bool,
    /// Skip in-flight TCP connections
    #[arg(long = "tcp-skip-in-flight")]
    pub tcp_skip_in_flight: bool,
    /// Link unlinked files back when possible
    #[arg(long = "link-remap")]
    pub link_remap: bool,
    /// CRIU writes \0 to this fd once lazy pages are ready
    #[arg(long = "status-fd", default_value_t = -1, allow_negative_numbers = true)]
    pub status_fd: i32,
    /// ADDRESS:PORT of the page server
    #[arg(long = "page-server")]
    pub page_server: Option<String>,
    /// Dump the memory only and leave the container running (a later dump names it with
    /// --parent-path)
    #[arg(long = "pre-dump")]
    pub pre_dump: bool,
    /// Container id
    pub id: String,
}

#[inline(never)]
pub fn run(g: &GlobalOptions, a: Args) -> Result<i32> {
    let mut o = a.common.options(g)?;
    o.parent_path = a.parent_path;
    o.leave_running = a.leave_running;
    o.tcp_skip_in_flight = a.tcp_skip_in_flight;
    o.link_remap = a.link_remap;
    o.status_fd = (a.status_fd >= 0).then_some(a.status_fd);
    o.page_server = a
        .page_server
        .as_deref()
        .filter(|p| !p.is_empty())
        .map(checkpoint::parse_page_server)
        .transpose()?;
    o.pre_dump = a.pre_dump;
    let container = g.state_root()?.load_locked(&a.id)?;
    checkpoint::checkpoint(&container, &o)?;
    // As runc: CRIU killed the processes at the end of the dump; the container goes too.
    if !o.leave_running
        && !o.pre_dump
        && let Err(e) = container.destroy()
    {
        crate::log::warn(format!("delete {} after the checkpoint: {e}", a.id));
    }
    Ok(0)
}
