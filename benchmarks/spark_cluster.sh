#!/usr/bin/env bash
# A Spark standalone cluster on this machine, for manual runs: a master and two workers of
# one core each, started with the PySpark installation's spark-class (the pip package has no
# start-master.sh). Logs, pids and work folders go to $TMPDIR/hiveframe-spark-cluster.
#
#   benchmarks/spark_cluster.sh start     # prints the master URL when both workers are up
#   .venv-bench/bin/python benchmarks/spark_run.py --master spark://127.0.0.1:7077
#   benchmarks/spark_cluster.sh stop
#
# PYTHON picks the interpreter whose PySpark is used (default: .venv-bench, made by
# benchmarks/spark_run); the executors run the driver's PYSPARK_PYTHON, which
# benchmarks/spark_run.py sets to its own interpreter.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-.venv-bench/bin/python}
DIR=${TMPDIR:-/tmp}/hiveframe-spark-cluster
MASTER_PORT=${MASTER_PORT:-7077}
UI_PORT=${UI_PORT:-8080}
export SPARK_HOME
SPARK_HOME=$("$PYTHON" -c 'import os, pyspark; print(os.path.dirname(pyspark.__file__))')
export SPARK_LOCAL_IP=127.0.0.1 SPARK_LOG_DIR="$DIR"

start() {
  mkdir -p "$DIR"
  "$SPARK_HOME/bin/spark-class" org.apache.spark.deploy.master.Master \
    --host 127.0.0.1 --port "$MASTER_PORT" --webui-port "$UI_PORT" >"$DIR/master.log" 2>&1 &
  echo $! >"$DIR/master.pid"
  for i in 1 2; do
    "$SPARK_HOME/bin/spark-class" org.apache.spark.deploy.worker.Worker \
      --host 127.0.0.1 --cores 1 --memory 2g --webui-port $((UI_PORT + i)) \
      --work-dir "$DIR/work-$i" "spark://127.0.0.1:$MASTER_PORT" >"$DIR/worker-$i.log" 2>&1 &
    echo $! >"$DIR/worker-$i.pid"
  done
  for _ in $(seq 120); do  # up to 60 s for both workers to register
    if "$PYTHON" - "$UI_PORT" <<'EOF' 2>/dev/null; then
import json, sys, urllib.request
state = json.load(urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/json/"))
sys.exit(0 if state.get("aliveworkers") == 2 else 1)
EOF
      echo "spark://127.0.0.1:$MASTER_PORT"
      return 0
    fi
    sleep 0.5
  done
  echo "the workers did not register; see $DIR/*.log" >&2
  stop
  return 1
}

stop() {
  for name in worker-1 worker-2 master; do
    if [[ -f "$DIR/$name.pid" ]]; then
      kill "$(cat "$DIR/$name.pid")" 2>/dev/null || true
      rm -f "$DIR/$name.pid"
    fi
  done
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
