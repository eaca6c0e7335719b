
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
