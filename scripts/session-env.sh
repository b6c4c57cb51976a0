# Sourced by scripts/test-all.sh and scripts/scenario.sh (with the calling script's
# "$0" "$@"): the services a headless run needs, private to this run.
#
# 1. The credential code uses the real OS keyring: re-exec inside a private D-Bus
#    session with gnome-keyring's Secret Service unlocked (and a private XDG_DATA_HOME,
#    so the throwaway keyring never touches the user's). SOFTPHONE_SKIP_KEYRING_TESTS=1
#    keeps the caller's session instead.
# 2. A private PulseAudio with virtual devices (tests/scripts/pulse-virtual.sh), so
#    concurrent runs never share (or stop) devices; stopped on exit.
if [ -z "${SOFTPHONE_KEYRING_SESSION:-}" ] && [ "${SOFTPHONE_SKIP_KEYRING_TESTS:-}" != 1 ]; then
  XDG_DATA_HOME="$(mktemp -d -t softphone-xdg.XXXXXX)"
  export XDG_DATA_HOME SOFTPHONE_KEYRING_SESSION=1
  exec dbus-run-session -- bash "$SESSION_SCRIPT" "$@"
fi
if [ -n "${SOFTPHONE_KEYRING_SESSION:-}" ]; then
  printf %s softphone-test | gnome-keyring-daemon --unlock --components=secrets >/dev/null
fi
PULSE_VIRTUAL_DIR="$(mktemp -d -t softphone-pulse.XXXXXX)"
export PULSE_VIRTUAL_DIR
eval "$(tests/scripts/pulse-virtual.sh start)"
trap 'tests/scripts/pulse-virtual.sh stop; rm -rf "$PULSE_VIRTUAL_DIR"' EXIT
