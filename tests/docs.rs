//! The man pages (`man/`) and shell completions (`completions/`) are generated from the clap
//! definitions, so they cannot drift from the CLI: these tests generate them afresh and fail
//! when a committed file differs. `CORRAL_UPDATE_DOCS=1 cargo test --test docs` rewrites them.
//! Also: the bash script loads and completes a live container's id.

mod common;

use clap::CommandFactory;
use clap_complete::Shell;
use common::*;
use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn cli() -> clap::Command {
    let mut cmd = corral::cli::Cli::command();
    cmd.build();
    cmd
}

/// One page: clap_mangen's sections, then EXAMPLES from the command's `after_long_help`
/// and SEE ALSO.
fn page(cmd: &clap::Command, name: &str, top: bool) -> Vec<u8> {
    let man = clap_mangen::Man::new(cmd.clone().display_name(name.to_string()))
        .title(name.to_uppercase())
        .section("8")
        .manual("corral manual")
        .source(format!("corral {}", env!("CARGO_PKG_VERSION")));
    let mut out = Vec::new();
    man.render_title(&mut out).unwrap();
    man.render_name_section(&mut out).unwrap();
    man.render_synopsis_section(&mut out).unwrap();
    man.render_description_section(&mut out).unwrap();
    man.render_options_section(&mut out).unwrap();
    if top {
        man.render_subcommands_section(&mut out).unwrap();
    }
    if let Some(examples) = cmd.get_after_long_help() {
        out.extend_from_slice(b".SH EXAMPLES\n.nf\n");
        for line in examples.to_string().lines().skip(1) {
            out.extend_from_slice(roff_line(line.trim_start()).as_bytes());
            out.push(b'\n');
        }
        out.extend_from_slice(b".fi\n");
    }
    out.extend_from_slice(b".SH SEE ALSO\n");
    let see: Vec<String> = if top {
        cmd.get_subcommands()
            .filter(|s| s.get_name() != "help")
            .map(|s| format!("\\fBcorral-{}\\fR(8)", s.get_name()))
            .collect()
    } else {
        vec!["\\fBcorral\\fR(8)".into(), "\\fBrunc\\fR(8)".into()]
    };
    out.extend_from_slice(see.join(", ").as_bytes());
    out.push(b'\n');
    out
}

/// A line of preformatted text with roff's special characters escaped.
fn roff_line(line: &str) -> String {
    let escaped = line.replace('\\', "\\e").replace('-', "\\-");
    if escaped.starts_with(['.', '\'']) {
        format!("\\&{escaped}")
    } else {
        escaped
    }
}

fn man_pages() -> Vec<(String, Vec<u8>)> {
    let cmd = cli();
    let mut pages = vec![("corral.8".to_string(), page(&cmd, "corral", true))];
    // clap's own `help` command gets no page (`corral --help` and the pages cover it).
    for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
        let name = format!("corral-{}", sub.get_name());
        pages.push((format!("{name}.8"), page(sub, &name, false)));
    }
    pages
}

fn completion_scripts() -> Vec<(String, Vec<u8>)> {
    let mut scripts = Vec::new();
    for (shell, file, extra) in [
        (Shell::Bash, "corral.bash", Some("ids.bash")),
        (Shell::Zsh, "_corral", None),
        (Shell::Fish, "corral.fish", Some("ids.fish")),
    ] {
        let mut out = Vec::new();
        clap_complete::generate(shell, &mut cli(), "corral", &mut out);
        if let Some(extra) = extra {
            out.extend(std::fs::read(repo().join("completions").join(extra)).unwrap());
        }
        scripts.push((file.to_string(), out));
    }
    scripts
}

/// Compares `files` with the committed ones in `dir` (or writes them when asked to).
fn check_committed(dir: &Path, files: Vec<(String, Vec<u8>)>) {
    let update = std::env::var_os("CORRAL_UPDATE_DOCS").is_some();
    let mut stale = Vec::new();
    for (name, content) in files {
        let path = dir.join(&name);
        if update {
            std::fs::write(&path, &content).unwrap();
        } else if std::fs::read(&path).ok().as_deref() != Some(&content[..]) {
            stale.push(name);
        }
    }
    assert!(
        stale.is_empty(),
        "{} differ from the CLI: {stale:?}; run CORRAL_UPDATE_DOCS=1 cargo test --test docs",
        dir.display()
    );
}

#[test]
fn man_pages_match_the_cli() {
    let pages = man_pages();
    // One page per command and corral.8, no stray pages.
    let mut committed: Vec<String> = std::fs::read_dir(repo().join("man"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    committed.sort();
    let mut names: Vec<String> = pages.iter().map(|(n, _)| n.clone()).collect();
    names.sort();
    check_committed(&repo().join("man"), pages);
    if std::env::var_os("CORRAL_UPDATE_DOCS").is_none() {
        assert_eq!(
            committed, names,
            "man/ holds pages for commands that do not exist"
        );
    }
}

#[test]
fn every_command_has_examples() {
    for sub in cli().get_subcommands().filter(|s| s.get_name() != "help") {
        assert!(
            sub.get_after_long_help()
                .is_some_and(|h| h.to_string().starts_with("Examples:")),
            "corral {} has no EXAMPLES",
            sub.get_name()
        );
    }
}

#[test]
fn completion_scripts_match_the_cli() {
    check_committed(&repo().join("completions"), completion_scripts());
}

#[test]
fn the_completion_command_prints_the_committed_scripts() {
    let rt = Runtime::corral();
    for (shell, file) in [
        ("bash", "corral.bash"),
        ("zsh", "_corral"),
        ("fish", "corral.fish"),
    ] {
        let out = rt.ok(&["completion", shell]);
        let committed = std::fs::read_to_string(repo().join("completions").join(file)).unwrap();
        assert_eq!(out, committed, "{shell}");
    }
}

/// bash loads the script, registers it for `corral`, and completes the id of a live
/// container (and a command name) when asked as bash asks. (`eval`, not `source <(...)`: the
/// test VM's busybox-made /dev has no /dev/fd for process substitution.)
#[test]
fn bash_completes_commands_and_a_live_container_id() {
    let rt = Runtime::corral();
    let id = unique_id("complete");
    let _guard = rt.guard(&id);
    rt.start_detached(&Bundle::with_args(&["sleep", "100"]), &id);
    let bin_dir = rt.bin.parent().unwrap().to_path_buf();
    let root = rt.root.path().to_str().unwrap().to_string();
    let script = format!(
        r#"eval "$(corral completion bash)" || exit 1
complete -p corral || exit 1
COMP_WORDS=(corral --root {root} state "{prefix}"); COMP_CWORD=4
_corral_with_ids corral "{prefix}" state
echo "ids: ${{COMPREPLY[*]}}"
COMP_WORDS=(corral del); COMP_CWORD=1
_corral_with_ids corral del corral
echo "commands: ${{COMPREPLY[*]}}"
"#,
        prefix = &id[..id.len() - 2],
    );
    let out = std::process::Command::new("bash")
        .args(["-c", &script])
        .env(
            "PATH",
            format!("{}:/usr/sbin:/usr/bin:/sbin:/bin", bin_dir.display()),
        )
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("-F _corral_with_ids corral"), "{text}");
    assert!(
        text.lines()
            .any(|l| l.starts_with("ids: ") && l.split_whitespace().any(|w| w == id)),
        "{text}"
    );
    assert!(text.contains("commands: delete"), "{text}");
    rt.cleanup(&id);
}
