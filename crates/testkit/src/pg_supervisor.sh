#!/bin/sh
# Stops the throwaway PostgreSQL cluster of trailseal's tests once no test process uses it.
#
# Usage: pg_supervisor.sh LOCK DIR PG_CTL...
#   LOCK      the lock file the test processes hold while they start or join the cluster
#   DIR       the cluster's directory: DIR/data (the cluster), DIR/port, DIR/supervisor (this
#             script's pid and start time) and DIR/users, one file per test process using the
#             cluster, named by its pid and holding its start time (field 22 of /proc/PID/stat,
#             so that a reused pid is not taken for it)
#   PG_CTL... the pg_ctl command (possibly behind runuser)
#
# Every 0.2 s, under LOCK: a user whose process is gone is removed; when none is left for
# 1 s, the cluster is stopped (`pg_ctl stop -m fast`), DIR/port and DIR/supervisor are
# removed and this script exits.
lock=$1 dir=$2
shift 2
users=$dir/users
trap '' INT HUP TERM
exec 9>>"$lock"
idle=0
while :; do
    sleep 0.2
    flock 9
    alive=0
    for f in "$users"/*; do
        [ -e "$f" ] || continue
        pid=${f##*/}
        have=$(sed 's/.*) //' "/proc/$pid/stat" 2>/dev/null | cut -d' ' -f20)
        if [ -n "$have" ] && [ "$have" = "$(cat "$f" 2>/dev/null)" ]; then
            alive=1
        else
            rm -f "$f"
        fi
    done
    if [ "$alive" = 1 ]; then
        idle=0
    else
        idle=$((idle + 1))
    fi
    if [ "$idle" -ge 5 ]; then
        "$@" stop -m fast -w -D "$dir/data" >/dev/null 2>&1
        rm -f "$dir/port" "$dir/supervisor"
        exit 0
    fi
    flock -u 9
done
