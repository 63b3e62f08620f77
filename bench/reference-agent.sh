#!/bin/sh
# The reference: the job's life cycle the way the paper's init scripts did it.
# Usage: reference-agent.sh SOURCE MOUNTPOINT JOB
mount --bind "$1" "$2"
mkdir -p "$2/job" && chown nobody "$2/job"
cd "$2/job" || exit 1
su -s /bin/sh nobody -c "$3 > stdout.log 2> stderr.log"
echo $? > exit_status
sync
cd /
umount "$2"
