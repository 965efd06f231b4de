# bash completion for shmemora(1).
#
# The commands, their subcommands and their options are read from the
# command's own --help (the one being completed, the first word of the
# line), so this file cannot drift from it.  Completes: commands; the
# subcommands of token, ns and region; options; POOL paths (files, less the
# .key and .root-token files beside pools); files for --key-file,
# --root-token-file and @FILE tokens; group names for --group; the modes of
# --coherence.  Installed as share/bash-completion/completions/shmemora.

# _shmemora_commands PROG: the command names its --help lists.
_shmemora_commands()
{
	"$1" --help 2>/dev/null |
		awk '/^Commands:/ { f = 1; next } f && /^  [a-z]/ { print $1 } f && /^$/ { exit }'
}

# _shmemora_subcommands PROG COMMAND: "token derive POOL" and "shmemora ns
# list POOL" lines of COMMAND --help give its subcommands.
_shmemora_subcommands()
{
	"$1" "$2" --help 2>/dev/null |
		sed -nE "s/^( *Usage:| *)( shmemora)? $2 ([a-z]+) POOL.*/\\3/p" | sort -u
}

# _shmemora_options PROG COMMAND [valued]: the --options of COMMAND --help;
# with "valued", only those shown with a value (--size S, --token TOKEN).
_shmemora_options()
{
	local help
	help=$("$1" "$2" --help 2>/dev/null) || return
	if [ "${3:-}" = valued ]; then
		grep -oE -- '--[a-z][a-z-]* [A-Z][A-Z:/]*' <<<"$help" | cut -d' ' -f1 | sort -u
	else
		grep -oE -- '--[a-z][a-z-]*' <<<"$help" | sort -u
	fi
}

# _shmemora_files PREFIX CUR: files matching CUR (a leading PREFIX kept),
# leaving out a pool's .key and .root-token files when PREFIX is empty.
_shmemora_files()
{
	local prefix=$1 cur=${2#"$1"} f
	command -v compopt >/dev/null && compopt -o filenames 2>/dev/null
	while IFS= read -r f; do
		[ -z "$prefix" ] && [ -d "$f" ] && f+=/
		case $f in
		*.key|*.root-token) [ -z "$prefix" ] && continue ;;
		esac
		COMPREPLY+=("$prefix$f")
	done < <(compgen -f -- "$cur")
	[ ${#COMPREPLY[@]} -eq 1 ] && [[ ${COMPREPLY[0]} == */ ]] &&
		command -v compopt >/dev/null && compopt -o nospace 2>/dev/null
	return 0
}

_shmemora()
{
	local prog=${COMP_WORDS[0]} cur=${COMP_WORDS[COMP_CWORD]} prev=
	[ "$COMP_CWORD" -gt 0 ] && prev=${COMP_WORDS[COMP_CWORD - 1]}
	COMPREPLY=()
	if [ "$COMP_CWORD" -eq 1 ]; then
		mapfile -t COMPREPLY < <(compgen -W "$(_shmemora_commands "$prog") --help --version" -- "$cur")
		return 0
	fi
	local cmd=${COMP_WORDS[1]}
	case $prev in
	--key-file|--root-token-file)
		_shmemora_files "" "$cur"; return 0 ;;
	--token|--from)
		[[ $cur == @* ]] && _shmemora_files @ "$cur"
		[ -z "$cur" ] && COMPREPLY=(@)
		return 0 ;;
	--coherence)
		mapfile -t COMPREPLY < <(compgen -W "coherent flush" -- "$cur"); return 0 ;;
	--group)
		mapfile -t COMPREPLY < <(compgen -g -- "$cur"); return 0 ;;
	esac
	# the value of another option that takes one: nothing to offer
	if [[ $prev == --* ]] && _shmemora_options "$prog" "$cmd" valued | grep -qx -- "$prev"; then
		return 0
	fi
	if [[ $cur == -* ]]; then
		mapfile -t COMPREPLY < <(compgen -W "$(_shmemora_options "$prog" "$cmd") --help" -- "$cur")
		return 0
	fi
	# Positional words so far: a subcommand (token, ns, region), then POOL.
	local subs i n=0 w valued
	subs=$(_shmemora_subcommands "$prog" "$cmd")
	valued=$(_shmemora_options "$prog" "$cmd" valued)
	for ((i = 2; i < COMP_CWORD; i++)); do
		w=${COMP_WORDS[i]}
		if [[ $w == --* ]]; then
			grep -qx -- "$w" <<<"$valued" && i=$((i + 1))
			continue
		fi
		n=$((n + 1))
	done
	if [ -n "$subs" ] && [ "$n" -eq 0 ]; then
		mapfile -t COMPREPLY < <(compgen -W "$subs" -- "$cur")
	elif [ "$n" -eq $([ -n "$subs" ] && echo 1 || echo 0) ]; then
		_shmemora_files "" "$cur"
	fi
	return 0
}
complete -F _shmemora shmemora
