# shellcheck shell=bash
# apt_get ARGS...: apt-get that waits for the package manager's locks (another apt-get, dpkg or
# unattended-upgrades holding /var/lib/dpkg/lock-frontend or /var/lib/apt/lists/lock) for up to
# MFB_APT_LOCK_WAIT seconds (default 300), saying so once, instead of failing at once.
# apt's own DPkg::Lock::Timeout only covers the dpkg lock, not `apt-get update`'s lists lock,
# hence the retry around it. Any other failure is reported at once with apt's own message.
apt_get() {
  local wait=${MFB_APT_LOCK_WAIT:-300} err rc said=''
  local deadline=$((SECONDS + wait))
  err=$(mktemp)
  while :; do
    rc=0
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=2 "$@" 2>"$err" || rc=$?
    if [ "$rc" = 0 ] || ! grep -qE 'Could not get lock|Unable to acquire the dpkg frontend lock|Unable to lock' "$err"; then
      [ "$rc" = 0 ] || cat "$err" >&2
      rm -f "$err"
      return "$rc"
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      echo "setup: the package manager is still busy after ${wait}s (another apt-get or dpkg holds its lock); let it finish, then run scripts/setup again (MFB_APT_LOCK_WAIT=<seconds> waits longer):" >&2
      cat "$err" >&2
      rm -f "$err"
      return "$rc"
    fi
    if [ -z "$said" ]; then
      echo "setup: the package manager is busy (another apt-get or dpkg holds its lock); waiting up to ${wait}s..." >&2
      said=1
    fi
    sleep 2
  done
}
