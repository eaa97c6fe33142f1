# Test stand-in for OpenWrt's /lib/functions.sh, written for cross/test-procd.sh: only
# the UCI helpers init scripts use. Values are kept as CONFIG_<section>_<option> like
# the real one, lists as _ITEMn/_LENGTH, so config_get & co behave alike.

config() {	# config TYPE [NAME]
	_C=$((_C + 1))
	CONFIG_SECTION="${2:-cfg$_C}"
	CONFIG_SECTIONS="$CONFIG_SECTIONS $CONFIG_SECTION"
	eval "CONFIG_${CONFIG_SECTION}_TYPE=\$1"
}
option() { eval "CONFIG_${CONFIG_SECTION}_$1=\$2"; }
list() {
	local n
	eval "n=\$((\${CONFIG_${CONFIG_SECTION}_$1_LENGTH:-0} + 1))"
	eval "CONFIG_${CONFIG_SECTION}_$1_ITEM$n=\$2; CONFIG_${CONFIG_SECTION}_$1_LENGTH=$n"
}
package() { :; }

# A UCI file is shell-quoted `config`/`option`/`list` lines; real OpenWrt evals the
# output of `uci export` the same way, so sourcing the file is parser enough here.
config_load() {
	[ -n "$IPKG_INSTROOT" ] && return 0
	_C=0
	CONFIG_SECTIONS=
	. "${UCI_CONFIG_DIR:-/etc/config}/$1"
}

# config_get VAR SECTION OPTION [DEFAULT]  |  config_get SECTION OPTION (prints)
config_get() {
	if [ -z "$3" ]; then
		eval "echo \"\${CONFIG_$1_$2}\""
	else
		eval "$1=\"\${CONFIG_$2_$3:-\$4}\""
	fi
}

config_get_bool() {
	local _b
	config_get _b "$2" "$3" "$4"
	case "$_b" in
	1 | on | true | yes | enabled) _b=1 ;;
	0 | off | false | no | disabled) _b=0 ;;
	*) _b="$4" ;;
	esac
	eval "$1=\$_b"
}

config_foreach() {	# FUNCTION [TYPE] [ARGS...]
	local _fn="$1" _type="$2" _s _t
	shift
	[ $# -gt 0 ] && shift
	for _s in $CONFIG_SECTIONS; do
		config_get _t "$_s" TYPE
		[ -z "$_type" ] || [ "$_t" = "$_type" ] || continue
		"$_fn" "$_s" "$@"
	done
}

config_list_foreach() {	# SECTION OPTION FUNCTION [ARGS...]
	local _s="$1" _o="$2" _fn="$3" _n _i=1 _v
	shift 3
	config_get _n "$_s" "${_o}_LENGTH"
	while [ "$_i" -le "${_n:-0}" ]; do
		config_get _v "$_s" "${_o}_ITEM$_i"
		"$_fn" "$_v" "$@"
		_i=$((_i + 1))
	done
}
