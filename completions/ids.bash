
# Container ids for the commands that take one (added to clap_complete's script by
# tests/docs.rs): `corral list -q` under the --root given on the command line.
_corral_ids() {
    local i root=() sub=
    for ((i = 1; i < COMP_CWORD; i++)); do
        case "${COMP_WORDS[i]}" in
            --root) root=(--root "${COMP_WORDS[i + 1]}"); ((i++)) ;;
            --root=*) root=(--root "${COMP_WORDS[i]#--root=}") ;;
            -*) ;;
            *) if [[ -z $sub ]]; then sub=${COMP_WORDS[i]}; else return 1; fi ;;
        esac
    done
    case "$sub" in
        start|delete|kill|state|exec|ps|pause|resume|update|events) ;;
        *) return 1 ;;
    esac
    [[ ${COMP_WORDS[COMP_CWORD]} == -* ]] && return 1
    COMPREPLY=($(compgen -W "$(corral "${root[@]}" list -q 2>/dev/null)" -- "${COMP_WORDS[COMP_CWORD]}"))
}

_corral_with_ids() {
    _corral_ids || _corral "$@"
}

if [[ "${BASH_VERSINFO[0]}" -eq 4 && "${BASH_VERSINFO[1]}" -ge 4 || "${BASH_VERSINFO[0]}" -gt 4 ]]; then
    complete -F _corral_with_ids -o nosort -o bashdefault -o default corral
else
    complete -F _corral_with_ids -o bashdefault -o default corral
fi
