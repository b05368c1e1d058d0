#!/usr/bin/env bash
# Run JSCC trainings one after another (one process at a time, nice 10, 1 thread each):
#   nohup setsid scripts/train_queue.sh [queue file] > runs/queue.log 2>&1 &
# The queue file (default scripts/train_queue.txt) holds one `python -m semcom.train` override
# line per run and is re-read before each run, so lines can be appended while it runs. Every
# run resumes from its last.pt and a finished run returns at once, so restarting the script
# after an interruption continues where it stopped. To stop: kill this script's PID, then the
# python PID (SIGTERM saves a checkpoint first).
cd "$(dirname "$0")/.."
queue="${1:-scripts/train_queue.txt}"
[ -f .venv/bin/activate ] && . .venv/bin/activate
export SEMCOM_DATA="${SEMCOM_DATA:-$(cd .. && pwd)/shared/data}"
i=0
while :; do
  line=$(grep -v '^[[:space:]]*#' "$queue" | grep -v '^[[:space:]]*$' | sed -n "$((i + 1))p")
  [ -z "$line" ] && break
  echo "=== $(date -Is) start: $line"
  # shellcheck disable=SC2086
  nice -n 10 python -m semcom.train $line threads=1
  echo "=== $(date -Is) exit $?: $line"
  i=$((i + 1))
done
echo "=== $(date -Is) queue empty"
