#!/bin/sh
# The image's commands: web | worker [queue ...] | scheduler | migrate | any other command, run as given.
set -eu
command="${1:-web}"
[ "$#" -gt 0 ] && shift
case "$command" in
  web)       exec gunicorn --no-control-socket -c deploy/gunicorn.conf.py -w "${WEB_CONCURRENCY:-2}" -b "0.0.0.0:${PORT:-8050}" "$@" 'app:create_app()' ;;
  worker)    exec python -m jobs.worker "$@" ;;
  scheduler) exec python -m jobs.scheduler "$@" ;;
  migrate)   exec flask --app app db upgrade "$@" ;;
  *)         exec "$command" "$@" ;;
esac
