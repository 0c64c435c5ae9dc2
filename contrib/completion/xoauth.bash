# bash completion for xoauth(1) and xoauth-agent(1).
#
# Installed as bash-completion/completions/xoauth and, the same file, as
# .../xoauth-agent, so that bash-completion loads it for either command.
# Account names come from `xoauth list`, asked of the agent the command
# line names (-s SOCKET) or $XOAUTH_AUTH_SOCK; with no agent, none are
# offered and nothing is printed.
#
# The lists below follow the CLI's table of commands (client/cli/main.c),
# the agent's options (agent/daemon/main.c), the provider presets
# (agent/config/pure/presets.c) and the account keys
# (agent/config/pure/parse.c); tests/integration/test_completion.py fails
# when they part.

_xoauth_commands="token xoauth2 oauthbearer list refresh remove import login
	add delete lock unlock export restore status doctor sendmail help"
_xoauth_providers="microsoft microsoft-us-gov microsoft-china google yahoo
	aol fastmail yandex generic"
_xoauth_keys="provider email client_id client_secret client_secret_cmd tenant
	issuer authorization_endpoint token_endpoint
	device_authorization_endpoint scopes flow ca_file redirect_uri
	notify_cmd redirect_port lifetime send smtp graph_endpoint graph_scope
	gmail_endpoint gmail_scope local_recipient"

# The options of each command, as its usage line has them.
_xoauth_command_options()
{
	case $1 in
	token | xoauth2) echo "--scope" ;;
	oauthbearer) echo "--host --port --scope" ;;
	login) echo "--flow --no-browser" ;;
	add)
		echo "--provider --client-id --email --tenant --scopes --flow" \
			"--issuer --set --client-secret-stdin --login"
		;;
	doctor) echo "--smtp --imap" ;;
	esac
}

# The names of the agent's accounts: the first column of `xoauth list`
# after its header; a line that starts with a blank continues the account
# above it.  $1 is the xoauth to run, the rest its options (-s SOCKET).
# Bounded to 2 s, so that a stopped agent never hangs the shell.
_xoauth_accounts()
{
	local xoauth=$1
	shift
	timeout 2 "$xoauth" "$@" list 2>/dev/null |
		awk 'NR > 1 && /^[^ \t]/ { print $1 }'
}

_xoauth()
{
	local cur prev words cword split
	_init_completion -s || return

	# The global options before the command, and the command itself.
	local i command= command_at=0 sock=()
	for ((i = 1; i < cword; i++)); do
		case ${words[i]} in
		-s)
			sock=(-s "${words[i + 1]}")
			((i++))
			;;
		--wait | --min-valid) ((i++)) ;;
		-s=* | --wait=* | --min-valid=*) ;;
		-*) ;;
		*)
			command=${words[i]}
			command_at=$i
			break
			;;
		esac
	done

	if [[ -z $command ]]; then
		case $prev in
		-s)
			_filedir
			return
			;;
		--wait | --min-valid) return ;;
		esac
		if [[ $cur == -* ]]; then
			COMPREPLY=($(compgen -W "-s --wait --min-valid --help
				--version" -- "$cur"))
		else
			COMPREPLY=($(compgen -W "$_xoauth_commands" -- "$cur"))
		fi
		return
	fi

	# The value of an option of the command.
	case $prev in
	--provider)
		COMPREPLY=($(compgen -W "$_xoauth_providers" -- "$cur"))
		return
		;;
	--flow)
		if [[ $command == login ]]; then
			COMPREPLY=($(compgen -W "device browser paste" -- "$cur"))
		else
			COMPREPLY=($(compgen -W "device browser paste
				client_credentials" -- "$cur"))
		fi
		return
		;;
	--tenant)
		COMPREPLY=($(compgen -W "common organizations consumers" \
			-- "$cur"))
		return
		;;
	--set)
		COMPREPLY=($(compgen -S = -W "$_xoauth_keys" -- "$cur"))
		compopt -o nospace
		return
		;;
	--host | --port | --client-id | --email | --scopes | --issuer | \
		--smtp | --imap | --scope)
		return
		;;
	esac
	# sendmail: sendmail's own options; -a takes an account.
	if [[ $command == sendmail ]]; then
		case $prev in
		-a) COMPREPLY=($(compgen -W "$(_xoauth_accounts "${words[0]}" \
			"${sock[@]}")" -- "$cur")) ;;
		esac
		return
	fi

	# Options already given are not offered again, but for --set.
	if [[ $cur == -* ]]; then
		local opt opts=()
		for opt in $(_xoauth_command_options "$command"); do
			if [[ $opt == --set ]] ||
				! [[ " ${words[*]:command_at:cword-command_at} " == *" $opt "* ]]; then
				opts+=("$opt")
			fi
		done
		COMPREPLY=($(compgen -W "${opts[*]}" -- "$cur"))
		return
	fi

	# The first word after the command that is not an option's value.
	local positional=0
	for ((i = command_at + 1; i < cword; i++)); do
		case ${words[i]} in
		--host | --port | --provider | --client-id | --email | --tenant | \
			--scopes | --flow | --issuer | --set | --smtp | --imap | \
			--scope)
			((i++))
			;;
		-*) ;;
		*) ((positional++)) ;;
		esac
	done
	((positional == 0)) || return

	case $command in
	token | xoauth2 | oauthbearer | refresh | remove | import | login | \
		delete | doctor)
		COMPREPLY=($(compgen -W "$(_xoauth_accounts "${words[0]}" \
			"${sock[@]}")" -- "$cur"))
		;;
	export | restore) _filedir ;;
	help) COMPREPLY=($(compgen -W "$_xoauth_commands" -- "$cur")) ;;
	esac
} &&
	complete -F _xoauth xoauth

_xoauth_agent()
{
	local cur prev words cword
	_init_completion || return

	# xoauth-agent [options] COMMAND [ARG ...]: past the options, the rest
	# of the line is a command of its own.
	local i
	for ((i = 1; i < cword; i++)); do
		case ${words[i]} in
		-[arft]) ((i++)) ;;
		-*) ;;
		*)
			_command_offset $i
			return
			;;
		esac
	done

	case $prev in
	-a | -r | -f)
		_filedir
		return
		;;
	-t) return ;;
	esac
	if [[ $cur == -* ]]; then
		COMPREPLY=($(compgen -W "-a -c -D -d -f -k -r -s -t -V -h" \
			-- "$cur"))
		return
	fi
	COMPREPLY=($(compgen -c -- "$cur"))
} &&
	complete -F _xoauth_agent xoauth-agent

# ex: filetype=sh
