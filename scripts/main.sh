#!/usr/bin/env bash
# The main job: install, then run the most complete end-to-end job mpam can do today on the
# default platform (rdn2): build the ACPI MPAM table, PPTT and SRAT firmware would publish, decode
# them, power on the hardware and list what its registers report, then boot the machine in the
# background (the kernel boots, the MPAM driver discovers the MSCs from the tables and enables
# MPAM), show its kernel log, its tasks and a CPU going offline and back, mount its resctrl
# through FUSE and use it, run a workload whose traffic the partition shapes and the monitors
# count, and shut it down. The machine boots paused: simulated time moves by `mpam step`.
# Last, the noisy-neighbour scenario runs on a machine of its own and writes its results.
# Options (e.g. -p two-socket) choose another platform.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install.sh
mpam=.venv/bin/mpam
tables="$(mktemp -d)"
export MPAM_RUNTIME_DIR="$tables/run"
trap '$mpam shutdown --name main >/dev/null 2>&1 || true; rm -rf "$tables"' EXIT
$mpam acpi build "$@" -o "$tables"
$mpam acpi decode "$tables/MPAM.aml"
$mpam acpi decode "$tables/PPTT.aml"
$mpam acpi decode "$tables/SRAT.aml"
$mpam inventory "$@"
$mpam boot "$@" --name main --paused
$mpam dmesg --name main
$mpam status --name main
$mpam ps --name main
$mpam cpu offline 1 --name main
$mpam cpu online 1 --name main
$mpam dmesg --name main | tail -n 4
# resctrl, mounted for real: a group, a control, a task moved into it.
mkdir -p "$tables/resctrl"
$mpam mount --name main "$tables/resctrl"
ls "$tables/resctrl"
cat "$tables/resctrl/schemata"
mkdir "$tables/resctrl/g1"
echo "L3:49=f0" > "$tables/resctrl/g1/schemata"
echo "L3:49=0" > "$tables/resctrl/g1/schemata" || cat "$tables/resctrl/info/last_cmd_status"
cat "$tables/resctrl/g1/schemata"
echo 11 > "$tables/resctrl/g1/tasks"
cat "$tables/resctrl/g1/tasks"
# Monitoring: 16 MBWU monitors for 128 labels, so bandwidth counters are assigned.
cat "$tables/resctrl/info/L3_MON/mon_features" "$tables/resctrl/info/L3_MON/mbm_assign_mode"
cat "$tables/resctrl/info/L3_MON/available_mbm_cntrs" "$tables/resctrl/g1/mbm_L3_assignments"
cat "$tables/resctrl/g1/mon_data/mon_L3_49/llc_occupancy" "$tables/resctrl/g1/mon_data/mon_L3_49/mbm_total_bytes"
$mpam ps --name main | awk 'NR == 1 || $1 == 11'
# Traffic: a streaming task in g1 fills only g1's 4 ways of the L3 (2 MiB of 8 MiB); given 12
# more ways it grows, and mbm_total_bytes counts every byte it read from memory.
pid=$($mpam run --name main --cpu 2 stream:footprint=64MiB)
echo "$pid" > "$tables/resctrl/g1/tasks"
$mpam step --name main 100ms
cat "$tables/resctrl/g1/mon_data/mon_L3_49/llc_occupancy" "$tables/resctrl/g1/mon_data/mon_L3_49/mbm_total_bytes"
echo "L3:49=fff0" > "$tables/resctrl/g1/schemata"
$mpam step --name main 100ms
cat "$tables/resctrl/g1/mon_data/mon_L3_49/llc_occupancy"
$mpam stats --name main
$mpam umount "$tables/resctrl"
$mpam shutdown --name main
# A scenario, played on a machine of its own through its mounted resctrl: a streaming task
# slows a cache-sensitive one down until a partition gives the stream 2 of the 16 ways. The
# summary table, the time series (CSV, JSON) and the plot land in results/noisy-neighbour.
$mpam scenario noisy-neighbour --out results/noisy-neighbour
