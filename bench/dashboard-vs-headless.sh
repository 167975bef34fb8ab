#!/usr/bin/env bash
# Images/s with the dashboard against headless, same config, run in turn (interleaved, since this
# machine's speed drifts). The dashboard runs in a detached tmux session of 120x36; each run trains
# one epoch of a slice of the data and its average images/s is read from the run's metrics.csv.
# With --overlay, the dashboard draws the first headless run's curves behind its own
# (`--compare`), so the cost of an overlay is measured too.
#   usage: bench/dashboard-vs-headless.sh [--overlay] [ROUNDS]   (needs tmux and a built target/release)
set -euo pipefail
cd "$(dirname "$0")/.."
overlay=false
if [ "${1:-}" = "--overlay" ]; then overlay=true; shift; fi
rounds=${1:-2}
binary=$PWD/target/release/alexnet-tui
work=$(mktemp -d)
trap 'tmux kill-session -t alexnet-bench 2>/dev/null || true; rm -rf "$work"' EXIT
cat > "$work/config.toml" <<'TOML'
[data]
train_limit = 6400
test_limit = 500
[training]
epochs = 1
[checkpoint]
dir = "runs"
interval_minutes = 0
TOML

epoch_speed() { # the images/s of the epoch row of the newest run (the column found by its name)
    local run
    run=$(ls -td "$work"/runs/*/ | head -1)
    awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "images_per_second") column = i }
             $1 == "epoch" { print $column }' "$run/metrics.csv"
}

run_headless() {
    "$binary" train --headless > headless.log 2>&1
    headless=$(epoch_speed)
}

run_dashboard() {
    local compare=""
    if $overlay; then compare="--compare $(ls -d "$work"/runs/*/ | head -1)"; fi
    tmux new-session -d -s alexnet-bench -x 120 -y 36 "$binary --start $compare; sleep 2"
    while tmux has-session -t alexnet-bench 2>/dev/null; do
        if tmux capture-pane -p -t alexnet-bench | grep -q "Finished"; then
            tmux send-keys -t alexnet-bench q
        fi
        sleep 1
    done
    dashboard=$(epoch_speed)
}

cd "$work"
if $overlay; then run_headless; fi # the run the overlay shows
for round in $(seq "$rounds"); do
    # Alternate which goes first, so that a drift of the machine's speed favours neither.
    if [ $((round % 2)) -eq 1 ]; then run_headless; run_dashboard; else run_dashboard; run_headless; fi
    echo "round $round: headless $headless images/s, dashboard $dashboard images/s, ratio $(awk "BEGIN { printf \"%.3f\", $dashboard / $headless }")"
done
