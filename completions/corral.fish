# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_corral_global_optspecs
    string join \n root= log= log-format= debug systemd-cgroup rootless= criu= v/version h/help
end

function __fish_corral_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_corral_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_corral_using_subcommand
    set -l cmd (__fish_corral_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c corral -n "__fish_corral_needs_command" -l root -d 'Root directory for storage of container state (tmpfs recommended) [default: /run/corral, or $XDG_RUNTIME_DIR/corral for an unprivileged user]' -r -F
complete -c corral -n "__fish_corral_needs_command" -l log -d 'Write log lines to this file instead of stderr' -r -F
complete -c corral -n "__fish_corral_needs_command" -l log-format -d 'Log format: text or json' -r -f -a "text\t''
json\t''"
complete -c corral -n "__fish_corral_needs_command" -l rootless -d 'Rootless mode: auto, true or false. auto (the default) is rootless when corral runs as an unprivileged user, or as root of a user namespace that is not the host\'s' -r
complete -c corral -n "__fish_corral_needs_command" -l criu -d 'Path to the criu binary, for checkpoint and restore' -r -F
complete -c corral -n "__fish_corral_needs_command" -l debug -d 'Enable debug logging'
complete -c corral -n "__fish_corral_needs_command" -l systemd-cgroup -d 'Use the systemd cgroup driver: the container\'s cgroup is a transient systemd unit, and linux.cgroupsPath reads "slice:prefix:name"'
complete -c corral -n "__fish_corral_needs_command" -s v -l version -d 'Print the version'
complete -c corral -n "__fish_corral_needs_command" -s h -l help -d 'Print help'
complete -c corral -n "__fish_corral_needs_command" -f -a "create" -d 'Create a container'
complete -c corral -n "__fish_corral_needs_command" -f -a "start" -d 'Execute the user process of a created container'
complete -c corral -n "__fish_corral_needs_command" -f -a "run" -d 'Create and start a container'
complete -c corral -n "__fish_corral_needs_command" -f -a "exec" -d 'Run a new process inside a container'
complete -c corral -n "__fish_corral_needs_command" -f -a "pause" -d 'Suspend all processes of a container'
complete -c corral -n "__fish_corral_needs_command" -f -a "resume" -d 'Resume all processes of a paused container'
complete -c corral -n "__fish_corral_needs_command" -f -a "ps" -d 'List the processes of a container'
complete -c corral -n "__fish_corral_needs_command" -f -a "update" -d 'Update the resource limits of a container'
complete -c corral -n "__fish_corral_needs_command" -f -a "events" -d 'Stream stats and OOM events of a container, or print its stats once'
complete -c corral -n "__fish_corral_needs_command" -f -a "state" -d 'Output the state of a container'
complete -c corral -n "__fish_corral_needs_command" -f -a "kill" -d 'Send a signal to the container\'s init process'
complete -c corral -n "__fish_corral_needs_command" -f -a "delete" -d 'Delete a container and everything it holds'
complete -c corral -n "__fish_corral_needs_command" -f -a "list" -d 'List containers started by corral with the given root'
complete -c corral -n "__fish_corral_needs_command" -f -a "spec" -d 'Create a new specification file'
complete -c corral -n "__fish_corral_needs_command" -f -a "features" -d 'Show what this build of corral supports, as JSON'
complete -c corral -n "__fish_corral_needs_command" -f -a "checkpoint" -d 'Checkpoint a running container with CRIU'
complete -c corral -n "__fish_corral_needs_command" -f -a "restore" -d 'Restore a container from a checkpoint'
complete -c corral -n "__fish_corral_needs_command" -f -a "check" -d 'Report what this host can run: namespaces, cgroups, seccomp, LSMs, system calls, CRIU'
complete -c corral -n "__fish_corral_needs_command" -f -a "completion" -d 'Print the completion script for bash, zsh or fish'
complete -c corral -n "__fish_corral_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c corral -n "__fish_corral_using_subcommand create" -s b -l bundle -d 'Path to the root of the bundle directory' -r -F
complete -c corral -n "__fish_corral_using_subcommand create" -l console-socket -d 'Path to an AF_UNIX socket which will receive the pty master' -r -F
complete -c corral -n "__fish_corral_using_subcommand create" -l pidfd-socket -d 'Path to an AF_UNIX socket which will receive a pidfd of the container\'s init' -r -F
complete -c corral -n "__fish_corral_using_subcommand create" -l pid-file -d 'File to write the process id to' -r -F
complete -c corral -n "__fish_corral_using_subcommand create" -l preserve-fds -d 'Pass N additional file descriptors (from 3 on) to the container' -r
complete -c corral -n "__fish_corral_using_subcommand create" -l no-pivot -d 'Do not use pivot_root to jail the process inside the rootfs'
complete -c corral -n "__fish_corral_using_subcommand create" -l no-new-keyring -d 'Do not create a new session keyring for the container'
complete -c corral -n "__fish_corral_using_subcommand create" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c corral -n "__fish_corral_using_subcommand start" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c corral -n "__fish_corral_using_subcommand run" -s b -l bundle -d 'Path to the root of the bundle directory' -r -F
complete -c corral -n "__fish_corral_using_subcommand run" -l console-socket -d 'Path to an AF_UNIX socket which will receive the pty master' -r -F
complete -c corral -n "__fish_corral_using_subcommand run" -l pidfd-socket -d 'Path to an AF_UNIX socket which will receive a pidfd of the container\'s init' -r -F
complete -c corral -n "__fish_corral_using_subcommand run" -l pid-file -d 'File to write the process id to' -r -F
complete -c corral -n "__fish_corral_using_subcommand run" -l preserve-fds -d 'Pass N additional file descriptors (from 3 on) to the container' -r
complete -c corral -n "__fish_corral_using_subcommand run" -l no-pivot -d 'Do not use pivot_root to jail the process inside the rootfs'
complete -c corral -n "__fish_corral_using_subcommand run" -l no-new-keyring -d 'Do not create a new session keyring for the container'
complete -c corral -n "__fish_corral_using_subcommand run" -s d -l detach -d 'Detach from the container\'s process'
complete -c corral -n "__fish_corral_using_subcommand run" -l keep -d 'Do not delete the container after it exits'
complete -c corral -n "__fish_corral_using_subcommand run" -l no-subreaper -d 'Do not make corral a child subreaper while it waits'
complete -c corral -n "__fish_corral_using_subcommand run" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c corral -n "__fish_corral_using_subcommand exec" -l console-socket -d 'Path to an AF_UNIX socket which will receive the pty master' -r -F
complete -c corral -n "__fish_corral_using_subcommand exec" -l pidfd-socket -d 'Path to an AF_UNIX socket which will receive a pidfd of the exec\'d process' -r -F
complete -c corral -n "__fish_corral_using_subcommand exec" -l cwd -d 'Current working directory in the container' -r -F
complete -c corral -n "__fish_corral_using_subcommand exec" -s e -l env -d 'Set an environment variable (repeatable)' -r
complete -c corral -n "__fish_corral_using_subcommand exec" -s u -l user -d 'UID[:GID] to run the process as' -r
complete -c corral -n "__fish_corral_using_subcommand exec" -s g -l additional-gids -d 'Additional gids (repeatable)' -r
complete -c corral -n "__fish_corral_using_subcommand exec" -s p -l process -d 'Path to a process.json describing the process (instead of a command)' -r -F
complete -c corral -n "__fish_corral_using_subcommand exec" -l pid-file -d 'File to write the process id to' -r -F
complete -c corral -n "__fish_corral_using_subcommand exec" -l process-label -d 'SELinux label for the process (ignored while SELinux is disabled, as runc does)' -r
complete -c corral -n "__fish_corral_using_subcommand exec" -l apparmor -d 'AppArmor profile for the process' -r
complete -c corral -n "__fish_corral_using_subcommand exec" -s c -l cap -d 'Add a capability to the bounding, effective and permitted sets (repeatable)' -r
complete -c corral -n "__fish_corral_using_subcommand exec" -l preserve-fds -d 'Pass N additional file descriptors (from 3 on) to the process' -r
complete -c corral -n "__fish_corral_using_subcommand exec" -l cgroup -d 'Run in a sub-cgroup: PATH or CONTROLLER[,CONTROLLER]:PATH (repeatable)' -r
complete -c corral -n "__fish_corral_using_subcommand exec" -s t -l tty -d 'Allocate a pseudo-TTY'
complete -c corral -n "__fish_corral_using_subcommand exec" -s d -l detach -d 'Detach from the process'
complete -c corral -n "__fish_corral_using_subcommand exec" -l no-new-privs -d 'Set no_new_privs for the process'
complete -c corral -n "__fish_corral_using_subcommand exec" -l ignore-paused -d 'Allow exec in a paused container'
complete -c corral -n "__fish_corral_using_subcommand exec" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c corral -n "__fish_corral_using_subcommand pause" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c corral -n "__fish_corral_using_subcommand resume" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c corral -n "__fish_corral_using_subcommand ps" -s f -l format -d 'Output format: table (ps output) or json (a list of pids)' -r -f -a "table\t''
json\t''"
complete -c corral -n "__fish_corral_using_subcommand ps" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c corral -n "__fish_corral_using_subcommand update" -s r -l resources -d 'Path to a JSON file with the new resources (linux.resources shape), or - for stdin' -r -F
complete -c corral -n "__fish_corral_using_subcommand update" -l memory -d 'Memory limit (bytes, or with a k/m/g suffix; -1 for unlimited). Negative numbers are values here, as in runc, not flags' -r
complete -c corral -n "__fish_corral_using_subcommand update" -l memory-swap -d 'Memory plus swap limit' -r
complete -c corral -n "__fish_corral_using_subcommand update" -l memory-reservation -d 'Memory soft limit' -r
complete -c corral -n "__fish_corral_using_subcommand update" -l kernel-memory -d 'Kernel memory limit (ignored by the kernel\'s deprecation, as runc does)' -r
complete -c corral -n "__fish_corral_using_subcommand update" -l kernel-memory-tcp -d 'Kernel TCP buffer limit' -r
complete -c corral -n "__fish_corral_using_subcommand update" -l cpu-share -d 'CPU shares' -r
complete -c corral -n "__fish_corral_using_subcommand update" -l cpu-period -d 'CPU CFS period' -r
complete -c corral -n "__fish_corral_using_subcommand update" -l cpu-quota -d 'CPU CFS quota' -r
complete -c corral -n "__fish_corral_using_subcommand update" -l cpu-burst -d 'CPU CFS hardcap burst limit (in usecs): unused quota a period may carry over' -r
complete -c corral -n "__fish_corral_using_subcommand update" -l cpu-idle -d 'Set cgroup SCHED_IDLE or not, 0: default behavior, 1: SCHED_IDLE' -r
complete -c corral -n "__fish_corral_using_subcommand update" -l cpu-rt-period -d 'CPU realtime period' -r
complete -c corral -n "__fish_corral_using_subcommand update" -l cpu-rt-runtime -d 'CPU realtime runtime' -r
complete -c corral -n "__fish_corral_using_subcommand update" -l cpuset-cpus -d 'CPUs to use' -r
complete -c corral -n "__fish_corral_using_subcommand update" -l cpuset-mems -d 'Memory nodes to use' -r
complete -c corral -n "__fish_corral_using_subcommand update" -l blkio-weight -d 'Block IO weight (10..1000)' -r
complete -c corral -n "__fish_corral_using_subcommand update" -l pids-limit -d 'Maximum number of pids (-1 for unlimited)' -r
complete -c corral -n "__fish_corral_using_subcommand update" -l l3-cache-schema -d 'Intel RDT L3 cache schema (the container must have linux.intelRdt)' -r
complete -c corral -n "__fish_corral_using_subcommand update" -l mem-bw-schema -d 'Intel RDT memory bandwidth schema (the container must have linux.intelRdt)' -r
complete -c corral -n "__fish_corral_using_subcommand update" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c corral -n "__fish_corral_using_subcommand events" -l interval -d 'Interval between stats events (Go duration: 500ms, 5s, 1m)' -r
complete -c corral -n "__fish_corral_using_subcommand events" -l stats -d 'Print one stats event and exit'
complete -c corral -n "__fish_corral_using_subcommand events" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c corral -n "__fish_corral_using_subcommand state" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c corral -n "__fish_corral_using_subcommand kill" -s a -l all -d 'Send the signal to every process in the container'
complete -c corral -n "__fish_corral_using_subcommand kill" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c corral -n "__fish_corral_using_subcommand delete" -s f -l force -d 'Kill the container first if it is still running'
complete -c corral -n "__fish_corral_using_subcommand delete" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c corral -n "__fish_corral_using_subcommand list" -s f -l format -d 'Output format: table or json' -r -f -a "table\t''
json\t''"
complete -c corral -n "__fish_corral_using_subcommand list" -s q -l quiet -d 'Print only the container ids'
complete -c corral -n "__fish_corral_using_subcommand list" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c corral -n "__fish_corral_using_subcommand spec" -s b -l bundle -d 'Path to the root of the bundle directory' -r -F
complete -c corral -n "__fish_corral_using_subcommand spec" -l rootless -d 'Generate a configuration for a rootless container'
complete -c corral -n "__fish_corral_using_subcommand spec" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c corral -n "__fish_corral_using_subcommand features" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c corral -n "__fish_corral_using_subcommand checkpoint" -l image-path -d 'Path for the CRIU image files [default: ./checkpoint]' -r -F
complete -c corral -n "__fish_corral_using_subcommand checkpoint" -l work-path -d 'Path for CRIU\'s work files and log [default: the image path]' -r -F
complete -c corral -n "__fish_corral_using_subcommand checkpoint" -l manage-cgroups-mode -d 'cgroups mode: soft, full, strict or ignore [default: soft]' -r
complete -c corral -n "__fish_corral_using_subcommand checkpoint" -l empty-ns -d 'Create a namespace, but do not restore its properties (network only)' -r
complete -c corral -n "__fish_corral_using_subcommand checkpoint" -l parent-path -d 'Path of a previous (pre-)dump, relative to the image path' -r -F
complete -c corral -n "__fish_corral_using_subcommand checkpoint" -l status-fd -d 'CRIU writes \\0 to this fd once lazy pages are ready' -r
complete -c corral -n "__fish_corral_using_subcommand checkpoint" -l page-server -d 'ADDRESS:PORT of the page server' -r
complete -c corral -n "__fish_corral_using_subcommand checkpoint" -l tcp-established -d 'Allow open TCP connections'
complete -c corral -n "__fish_corral_using_subcommand checkpoint" -l ext-unix-sk -d 'Allow external unix sockets'
complete -c corral -n "__fish_corral_using_subcommand checkpoint" -l shell-job -d 'Allow shell jobs'
complete -c corral -n "__fish_corral_using_subcommand checkpoint" -l file-locks -d 'Handle file locks, for safety'
complete -c corral -n "__fish_corral_using_subcommand checkpoint" -l lazy-pages -d 'Use userfaultfd to restore memory pages lazily'
complete -c corral -n "__fish_corral_using_subcommand checkpoint" -l auto-dedup -d 'Enable auto deduplication of memory images'
complete -c corral -n "__fish_corral_using_subcommand checkpoint" -l leave-running -d 'Leave the processes running after the checkpoint'
complete -c corral -n "__fish_corral_using_subcommand checkpoint" -l tcp-skip-in-flight -d 'Skip in-flight TCP connections'
complete -c corral -n "__fish_corral_using_subcommand checkpoint" -l link-remap -d 'Link unlinked files back when possible'
complete -c corral -n "__fish_corral_using_subcommand checkpoint" -l pre-dump -d 'Dump the memory only and leave the container running (a later dump names it with --parent-path)'
complete -c corral -n "__fish_corral_using_subcommand checkpoint" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c corral -n "__fish_corral_using_subcommand restore" -l image-path -d 'Path for the CRIU image files [default: ./checkpoint]' -r -F
complete -c corral -n "__fish_corral_using_subcommand restore" -l work-path -d 'Path for CRIU\'s work files and log [default: the image path]' -r -F
complete -c corral -n "__fish_corral_using_subcommand restore" -l manage-cgroups-mode -d 'cgroups mode: soft, full, strict or ignore [default: soft]' -r
complete -c corral -n "__fish_corral_using_subcommand restore" -l empty-ns -d 'Create a namespace, but do not restore its properties (network only)' -r
complete -c corral -n "__fish_corral_using_subcommand restore" -s b -l bundle -d 'Path to the root of the bundle directory' -r -F
complete -c corral -n "__fish_corral_using_subcommand restore" -l console-socket -d 'Path to an AF_UNIX socket which will receive the pty master' -r -F
complete -c corral -n "__fish_corral_using_subcommand restore" -l pid-file -d 'File to write the process id to' -r -F
complete -c corral -n "__fish_corral_using_subcommand restore" -l lsm-profile -d 'An LSM profile for the restored processes, TYPE:NAME' -r
complete -c corral -n "__fish_corral_using_subcommand restore" -l lsm-mount-context -d 'An LSM mount context for the restored mounts' -r
complete -c corral -n "__fish_corral_using_subcommand restore" -l tcp-established -d 'Allow open TCP connections'
complete -c corral -n "__fish_corral_using_subcommand restore" -l ext-unix-sk -d 'Allow external unix sockets'
complete -c corral -n "__fish_corral_using_subcommand restore" -l shell-job -d 'Allow shell jobs'
complete -c corral -n "__fish_corral_using_subcommand restore" -l file-locks -d 'Handle file locks, for safety'
complete -c corral -n "__fish_corral_using_subcommand restore" -l lazy-pages -d 'Use userfaultfd to restore memory pages lazily'
complete -c corral -n "__fish_corral_using_subcommand restore" -l auto-dedup -d 'Enable auto deduplication of memory images'
complete -c corral -n "__fish_corral_using_subcommand restore" -s d -l detach -d 'Detach from the container\'s process'
complete -c corral -n "__fish_corral_using_subcommand restore" -l no-subreaper -d 'Do not make corral a child subreaper while it waits'
complete -c corral -n "__fish_corral_using_subcommand restore" -l no-pivot -d 'Accepted for runc\'s command line: CRIU makes the restored root itself, as under runc'
complete -c corral -n "__fish_corral_using_subcommand restore" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c corral -n "__fish_corral_using_subcommand check" -l format -d 'Output format' -r -f -a "text\t''
json\t''"
complete -c corral -n "__fish_corral_using_subcommand check" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c corral -n "__fish_corral_using_subcommand completion" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c corral -n "__fish_corral_using_subcommand help; and not __fish_seen_subcommand_from create start run exec pause resume ps update events state kill delete list spec features checkpoint restore check completion help" -f -a "create" -d 'Create a container'
complete -c corral -n "__fish_corral_using_subcommand help; and not __fish_seen_subcommand_from create start run exec pause resume ps update events state kill delete list spec features checkpoint restore check completion help" -f -a "start" -d 'Execute the user process of a created container'
complete -c corral -n "__fish_corral_using_subcommand help; and not __fish_seen_subcommand_from create start run exec pause resume ps update events state kill delete list spec features checkpoint restore check completion help" -f -a "run" -d 'Create and start a container'
complete -c corral -n "__fish_corral_using_subcommand help; and not __fish_seen_subcommand_from create start run exec pause resume ps update events state kill delete list spec features checkpoint restore check completion help" -f -a "exec" -d 'Run a new process inside a container'
complete -c corral -n "__fish_corral_using_subcommand help; and not __fish_seen_subcommand_from create start run exec pause resume ps update events state kill delete list spec features checkpoint restore check completion help" -f -a "pause" -d 'Suspend all processes of a container'
complete -c corral -n "__fish_corral_using_subcommand help; and not __fish_seen_subcommand_from create start run exec pause resume ps update events state kill delete list spec features checkpoint restore check completion help" -f -a "resume" -d 'Resume all processes of a paused container'
complete -c corral -n "__fish_corral_using_subcommand help; and not __fish_seen_subcommand_from create start run exec pause resume ps update events state kill delete list spec features checkpoint restore check completion help" -f -a "ps" -d 'List the processes of a container'
complete -c corral -n "__fish_corral_using_subcommand help; and not __fish_seen_subcommand_from create start run exec pause resume ps update events state kill delete list spec features checkpoint restore check completion help" -f -a "update" -d 'Update the resource limits of a container'
complete -c corral -n "__fish_corral_using_subcommand help; and not __fish_seen_subcommand_from create start run exec pause resume ps update events state kill delete list spec features checkpoint restore check completion help" -f -a "events" -d 'Stream stats and OOM events of a container, or print its stats once'
complete -c corral -n "__fish_corral_using_subcommand help; and not __fish_seen_subcommand_from create start run exec pause resume ps update events state kill delete list spec features checkpoint restore check completion help" -f -a "state" -d 'Output the state of a container'
complete -c corral -n "__fish_corral_using_subcommand help; and not __fish_seen_subcommand_from create start run exec pause resume ps update events state kill delete list spec features checkpoint restore check completion help" -f -a "kill" -d 'Send a signal to the container\'s init process'
complete -c corral -n "__fish_corral_using_subcommand help; and not __fish_seen_subcommand_from create start run exec pause resume ps update events state kill delete list spec features checkpoint restore check completion help" -f -a "delete" -d 'Delete a container and everything it holds'
complete -c corral -n "__fish_corral_using_subcommand help; and not __fish_seen_subcommand_from create start run exec pause resume ps update events state kill delete list spec features checkpoint restore check completion help" -f -a "list" -d 'List containers started by corral with the given root'
complete -c corral -n "__fish_corral_using_subcommand help; and not __fish_seen_subcommand_from create start run exec pause resume ps update events state kill delete list spec features checkpoint restore check completion help" -f -a "spec" -d 'Create a new specification file'
complete -c corral -n "__fish_corral_using_subcommand help; and not __fish_seen_subcommand_from create start run exec pause resume ps update events state kill delete list spec features checkpoint restore check completion help" -f -a "features" -d 'Show what this build of corral supports, as JSON'
complete -c corral -n "__fish_corral_using_subcommand help; and not __fish_seen_subcommand_from create start run exec pause resume ps update events state kill delete list spec features checkpoint restore check completion help" -f -a "checkpoint" -d 'Checkpoint a running container with CRIU'
complete -c corral -n "__fish_corral_using_subcommand help; and not __fish_seen_subcommand_from create start run exec pause resume ps update events state kill delete list spec features checkpoint restore check completion help" -f -a "restore" -d 'Restore a container from a checkpoint'
complete -c corral -n "__fish_corral_using_subcommand help; and not __fish_seen_subcommand_from create start run exec pause resume ps update events state kill delete list spec features checkpoint restore check completion help" -f -a "check" -d 'Report what this host can run: namespaces, cgroups, seccomp, LSMs, system calls, CRIU'
complete -c corral -n "__fish_corral_using_subcommand help; and not __fish_seen_subcommand_from create start run exec pause resume ps update events state kill delete list spec features checkpoint restore check completion help" -f -a "completion" -d 'Print the completion script for bash, zsh or fish'
complete -c corral -n "__fish_corral_using_subcommand help; and not __fish_seen_subcommand_from create start run exec pause resume ps update events state kill delete list spec features checkpoint restore check completion help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'

# Container ids for the commands that take one (added to clap_complete's script by
# tests/docs.rs): `corral list -q` under the --root given on the command line.
function __corral_ids
    set -l root
    set -l words (commandline -opc)
    for i in (seq (count $words))
        if test "$words[$i]" = --root; and test $i -lt (count $words)
            set root --root $words[(math $i + 1)]
        end
    end
    corral $root list -q 2>/dev/null
end
complete -c corral -n "__fish_seen_subcommand_from start delete kill state exec ps pause resume update events" -f -a "(__corral_ids)"
