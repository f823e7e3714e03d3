# scripts/lib/postgres.sh: what scripts/with-postgres and scripts/cluster share: finding the
# PostgreSQL server binaries and running them as their owner. Sourced; the caller defines
# die, and may set PG_BINDIR_SEARCH=DIR[:DIR...] to replace the search (newest
# /usr/lib/postgresql/*/bin first, then `pg_config --bindir`, then initdb on PATH).
# shellcheck shell=bash

# Major version of the PostgreSQL binaries in a bindir (empty if unknown).
bindir_major() {
	local v
	v=$("$1/pg_ctl" --version 2>/dev/null) || return 0
	[[ $v =~ \)\ ([0-9]+) ]] && printf '%s' "${BASH_REMATCH[1]}"
	return 0
}

# Candidate server bindirs, one per line (may contain duplicates/invalid ones).
bindir_candidates() {
	local d
	if [[ -n ${PG_BINDIR_SEARCH:-} ]]; then
		local IFS=:
		for d in $PG_BINDIR_SEARCH; do printf '%s\n' "$d"; done
		return 0
	fi
	for d in /usr/lib/postgresql/*/bin; do
		[[ -d $d ]] && printf '%s\n' "$d"
	done | sort -V -r
	if command -v pg_config >/dev/null 2>&1; then
		d=$(pg_config --bindir 2>/dev/null) && [[ -n $d ]] && printf '%s\n' "$d"
	fi
	if d=$(command -v initdb 2>/dev/null); then
		d=$(readlink -f -- "$d") && printf '%s\n' "${d%/*}"
	fi
	return 0
}

# find_server_bindir [MAJOR] [TOOL...]: sets SERVER_BINDIR/SERVER_MAJOR to the newest bindir
# with initdb, pg_ctl, postgres and each TOOL, or to one of major version MAJOR if given (may
# be ""). Returns 1 when none is found.
find_server_bindir() {
	local want=${1:-} d major best="" best_major=-1 tool ok
	shift || true
	while IFS= read -r d; do
		[[ -n $d && -x $d/initdb && -x $d/pg_ctl && -x $d/postgres ]] || continue
		ok=true
		for tool in "$@"; do [[ -x $d/$tool ]] || ok=false; done
		$ok || continue
		major=$(bindir_major "$d")
		[[ -n $major ]] || continue
		if [[ -n $want ]]; then
			[[ $major == "$want" ]] || continue
		fi
		if ((major > best_major)); then best=$d best_major=$major; fi
	done < <(bindir_candidates)
	[[ -n $best ]] || return 1
	# shellcheck disable=SC2034 # read by the sourcing script
	SERVER_BINDIR=$best SERVER_MAJOR=$best_major
}

RUN_AS=direct # direct | runuser | su
setup_run_as() {
	if [[ $(id -u) -ne 0 ]]; then
		RUN_AS=direct
		return 0
	fi
	id -u postgres >/dev/null 2>&1 ||
		die "running as root but there is no 'postgres' OS user (pg_ctl/initdb refuse to run as root); apt-get install postgresql creates it, or run as a normal user"
	if command -v runuser >/dev/null 2>&1; then
		RUN_AS=runuser
	elif command -v su >/dev/null 2>&1; then
		RUN_AS=su
	else
		die "running as root but neither runuser nor su is available to switch to the 'postgres' user"
	fi
}

# Run a command as the servers' owner (postgres when we are root), from /.
as_pg() {
	case $RUN_AS in
	runuser) (cd / && runuser -u postgres -- "$@") ;;
	su)
		local cmd
		printf -v cmd '%q ' "$@"
		(cd / && su postgres -s /bin/bash -c "$cmd")
		;;
	*) (cd / && "$@") ;;
	esac
}
