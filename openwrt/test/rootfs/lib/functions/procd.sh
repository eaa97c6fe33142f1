# Test stand-in for OpenWrt's /lib/functions/procd.sh AND the procd daemon behind it,
# for cross/test-procd.sh. The real helpers send JSON over ubus to procd; here
# procd_close_service starts and stops the processes itself, by procd's rules:
#  - "set": instances no longer declared are stopped; a declared one is (re)started
#    unless it runs with the same command, user, respawn and `file` checksums;
#  - respawn: restarted respawn_timeout s after an exit, given up after more than
#    respawn_retry exits within respawn_threshold s each (defaults 3600 5 5);
#  - procd_send_signal SERVICE [INSTANCE] [SIGNAL]: SIGHUP by default;
#  - procd_kill: SIGTERM, SIGKILL after 5 s (procd's term_timeout).
# stdout/stderr go to /var/log/SERVICE.log instead of syslog. State, one directory per
# instance: /var/run/procd/SERVICE/INSTANCE/{command,user,respawn,file,pid,...}.

PROCD_STATE=/var/run/procd

procd_open_service() {
	_ps_name="$1"
	_ps_new="$PROCD_STATE/.new.$1"
	_ps_seq=0
	rm -rf "$_ps_new"
	mkdir -p "$_ps_new"
}

procd_open_instance() {
	_ps_seq=$((_ps_seq + 1))
	_ps_inst="$_ps_new/${1:-instance$_ps_seq}"
	mkdir -p "$_ps_inst"
}

procd_set_param() {
	rm -f "$_ps_inst/$1"
	procd_append_param "$@"
}

procd_append_param() {	# one line per value; a param given without values still exists
	local type="$1" a
	shift
	touch "$_ps_inst/$type"
	for a in "$@"; do printf '%s\n' "$a" >> "$_ps_inst/$type"; done
}

procd_close_instance() {
	[ -s "$_ps_inst/respawn" ] || [ ! -f "$_ps_inst/respawn" ] ||
		printf '%s\n' 3600 5 5 > "$_ps_inst/respawn"
	# procd keeps the md5 of every `file` from registration time
	if [ -f "$_ps_inst/file" ]; then
		while IFS= read -r f; do md5sum "$f" 2>/dev/null || echo "- $f"; done \
			< "$_ps_inst/file" > "$_ps_inst/file.md5"
	fi
}

procd_add_reload_trigger() {
	local c
	for c in "$@"; do
		echo "config.change $c /etc/init.d/$_ps_name reload" >> "$_ps_new/.triggers"
	done
}

# What procd compares to decide on a restart.
_ps_sig() { (cd "$1" && cat command env user group respawn file.md5 2>/dev/null); }
_ps_running() { [ -s "$1/pid" ]; }	# the supervisor removes pid when its child exits

procd_close_service() {
	local svc="$PROCD_STATE/$_ps_name" d i
	service_triggers
	mkdir -p "$svc"
	mv -f "$_ps_new/.triggers" "$svc/.triggers" 2>/dev/null || rm -f "$svc/.triggers"
	for d in "$svc"/*; do
		[ -d "$d" ] && [ ! -d "$_ps_new/${d##*/}" ] && _ps_stop "$d"
	done
	for d in "$_ps_new"/*; do
		[ -d "$d" ] || continue
		i="$svc/${d##*/}"
		if _ps_running "$i" && [ "$(_ps_sig "$i")" = "$(_ps_sig "$d")" ]; then
			continue	# unchanged: leave it running
		fi
		[ -d "$i" ] && _ps_stop "$i"
		mv "$d" "$i"
		_ps_start "$i"
	done
	rm -rf "$_ps_new"
}

_ps_start() {
	local i="$1" n=0
	# setsid + own log: the supervisor outlives this init script run.
	setsid /bin/sh -c '. /lib/functions/procd.sh; _ps_supervise "$1"' _ "$i" \
		</dev/null >>"/var/log/$_ps_name.log" 2>&1 &
	while [ ! -s "$i/pid" ] && [ $n -lt 50 ]; do sleep 0.1; n=$((n + 1)); done
}

_ps_supervise() {
	local i="$1" t0 rc crashes=0 threshold timeout retry u ent
	set --
	while IFS= read -r a; do set -- "$@" "$a"; done < "$i/command"
	if [ -s "$i/user" ]; then	# procd: setgid/initgroups/setuid to the passwd entry
		u="$(cat "$i/user")"
		ent="$(grep "^$u:" /etc/passwd)" || { echo "procd: no user $u"; return 1; }
		set -- setpriv --reuid="$(echo "$ent" | cut -d: -f3)" \
			--regid="$(echo "$ent" | cut -d: -f4)" --init-groups "$@"
	fi
	{ read -r threshold; read -r timeout; read -r retry; } < "$i/respawn" 2>/dev/null
	echo $$ > "$i/supervisor"
	while :; do
		t0=$(date +%s)
		"$@" &
		echo $! > "$i/pid"
		wait $!
		rc=$?
		rm -f "$i/pid"
		echo "procd: instance ${i##*/} exited ($rc)"
		[ -e "$i/halt" ] || [ -z "$timeout" ] && break
		if [ $(($(date +%s) - t0)) -lt "$threshold" ]; then
			crashes=$((crashes + 1))
		else
			crashes=0
		fi
		if [ "$retry" -gt 0 ] && [ "$crashes" -gt "$retry" ]; then
			echo "procd: instance ${i##*/} in a crash loop, giving up"
			break
		fi
		sleep "$timeout"
		[ -e "$i/halt" ] && break
	done
	touch "$i/exited"
}

_ps_stop() {
	local i="$1" pid n=0
	touch "$i/halt"
	pid="$(cat "$i/pid" 2>/dev/null)"
	[ -z "$pid" ] || kill -TERM "$pid" 2>/dev/null
	while [ ! -e "$i/exited" ] && [ $n -lt 100 ]; do	# up to 10 s
		[ $n = 50 ] && [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null
		sleep 0.1
		n=$((n + 1))
	done
	rm -rf "$i"
}

procd_kill() {	# SERVICE [INSTANCE]
	local d
	for d in "$PROCD_STATE/$1"/${2:-*}; do
		[ -d "$d" ] && _ps_stop "$d"
	done
	return 0
}

procd_send_signal() {	# SERVICE [INSTANCE] [SIGNAL]
	local d sig="${3:-HUP}"
	[ "$2" = "*" ] && set -- "$1" "" "$3"
	for d in "$PROCD_STATE/$1"/${2:-*}; do
		_ps_running "$d" && kill -s "$sig" "$(cat "$d/pid")"
	done
	return 0
}
