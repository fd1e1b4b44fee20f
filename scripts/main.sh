#!/usr/bin/env bash
# The main job: install mpam, then tell the whole story it can run today, step by step.
# Firmware tables for a platform and what Linux makes of them; the hardware powered on; Linux
# booted on it in the background with the MPAM driver; CPU hotplug; resctrl mounted for real
# through FUSE and used as Arm's RD-N2 MPAM-resctrl walkthrough uses it; a workload whose
# cache footprint follows the group's schemata and whose bytes the monitors count; and a
# scenario, the noisy neighbour, with its report and plot; then the same two tasks on a
# running machine, watched live with mpam monitor as the stream is confined.
#
# Usage: ./scripts/main.sh [-p|--platform NAME] [--out DIR] [--no-install]
#   NAME is a preset (rdn2, the default; two-socket, tiny, large) or a platform TOML file.
#   DIR receives the tables, their full decode, the inventory and the scenario's results
#   (default: results/main-NAME, and results/noisy-neighbour for the scenario).
#   --no-install skips the install, for a .venv that ./scripts/install.sh has made.
# Each step prints a heading, then each command as a shell shows it ($ ...), then its output.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
platform=rdn2
out=
install=yes
while [ $# -gt 0 ]; do
    case "$1" in
        -p | --platform) platform=${2:?"$1 needs a platform name"}; shift 2 ;;
        --platform=*) platform=${1#*=}; shift ;;
        --out) out=${2:?"--out needs a directory"}; shift 2 ;;
        --no-install) install=no; shift ;;
        -h | --help) sed -n '2,/^set /p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "main.sh: unknown argument '$1' (see ./scripts/main.sh --help)" >&2; exit 2 ;;
    esac
done
results=${out:+$out/noisy-neighbour}
results=${results:-results/noisy-neighbour}
out=${out:-results/main-$(basename "${platform%.toml}")}
mkdir -p "$out"
out=$(cd "$out" && pwd)
run_dir=$(mktemp -d)  # the machine's socket and log; private to this run
export MPAM_RUNTIME_DIR=$run_dir COLUMNS=${COLUMNS:-160}
export PATH="$root/.venv/bin:$PATH"

say() { printf '\n== %s\n' "$*"; }        # a step's one-line heading
# A command as a shell would show it, then its output. `| head` may close the pipe early:
# that is not a failure, so pipefail is off for the command itself.
show() { printf '$ %s\n' "$1"; (set +o pipefail; eval "$1"); }
note() { printf '   # %s\n' "$*"; }          # what a number means
# A write the kernel refuses: the shell's error (the errno) and resctrl's last_cmd_status.
refused() {
    printf '$ %s\n' "$1"
    local err
    if err=$( { eval "$1"; } 2>&1); then
        echo "main.sh: the kernel would refuse this write, but it was accepted" >&2
        exit 1
    fi
    echo "write refused, as the kernel would: ${err##*: }; last_cmd_status: $(cat resctrl/info/last_cmd_status)"
}
human() { # bytes in binary units
    awk -v b="$1" 'BEGIN { split("B KiB MiB GiB TiB", u); i = 1; v = b
        while (v >= 1024 && i < 5) { v /= 1024; i++ }
        if (i == 1) printf "%d B", v; else printf "%.1f %s", v, u[i] }'
}
cleanup() { # on any exit: leave no mount and no machine behind
    if [ -S "$run_dir/mpam.sock" ]; then
        mpam umount "$out/resctrl" >/dev/null 2>&1 || true
        mpam shutdown >/dev/null 2>&1 || true
    fi
    rm -rf "$run_dir"
}
trap cleanup EXIT

say "Install: system packages (fuse3 and the resctrl clients among them), a virtual environment in .venv, the pinned Python packages"
if [ $install = no ]; then
    echo "skipped (--no-install)" >"$out/install.log"
elif ! { ./scripts/install.sh && ./scripts/install_clients.sh; } >"$out/install.log" 2>&1; then
    tail -n 20 "$out/install.log"
    echo "main.sh: the install failed; its whole log is $out/install.log" >&2
    exit 1
fi
echo "installed: $(mpam --version); log in $out/install.log"
cd "$out"
echo "working in $out"

say "Firmware: the ACPI MPAM table, PPTT and SRAT a firmware would publish for $platform"
show "mpam acpi build -p $platform --out tables"

say "What Linux makes of them (mpam acpi check): MSC devices, each RIS's class, whether MPAM comes up"
show "mpam acpi check -p $platform tables"

say "The field-by-field decode of each table (the layout of ACPICA's iasl -d), written to files"
for t in MPAM PPTT SRAT; do
    show "mpam acpi decode tables/$t.aml > tables/$t.dsl"
done
show "wc -l tables/*.dsl"

say "The hardware powered on: what the CPUs' and the MSCs' ID registers report (whole list in inventory.txt)"
mpam inventory -p "$platform" >inventory.txt
show "mpam inventory -p $platform | head -n 40"

say "Boot Linux on it in the background, paused: simulated time moves only when mpam step says"
show "mpam boot -p $platform --paused"

say "The kernel log: the CPU feature, then the driver enabling MPAM once every MSC has probed"
show "mpam dmesg | grep -e 'Memory Partitioning' -e MPAM"
show "mpam status"

say "Its tasks, as ps shows them, with the PARTID and PMG each one's memory accesses carry"
show "mpam ps | head -n 8"

say "CPU hotplug: the driver restores the MSCs' settings as CPU 1 goes and comes back"
show "mpam cpu offline 1"
show "mpam cpu online 1"
show "mpam dmesg | tail -n 4"

say "resctrl mounted for real through FUSE, as 'mount -t resctrl resctrl /sys/fs/resctrl' would"
show "mkdir -p resctrl"
show "mpam mount resctrl"
show "ls resctrl"
show "cat resctrl/schemata"

say "Owners and modes as kernfs gives them: root's, the root directory 0555; any user may read"
show "ls -ld resctrl resctrl/schemata resctrl/size resctrl/info"
nobody="setpriv --reuid=65534 --regid=65534 --clear-groups"
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null && $nobody test -r resctrl/schemata 2>/dev/null; then
    # A monitoring agent runs unprivileged: it reads, and is refused writes (EACCES)
    show "$nobody cat resctrl/info/L3_MON/num_rmids"  # (conditional)
    refused "$nobody bash -c 'echo 1 > resctrl/tasks'"  # (conditional)
else
    note "(the unprivileged read is shown when run as root from a directory other users can enter)"
fi
# Everything below reads the L3 domain and its geometry from resctrl itself, as a client would.
dom=$(sed -n 's/^ *L3:\([0-9]*\)=.*/\1/p' resctrl/schemata)
mon=$(printf 'mon_L3_%02d' "$dom")
cbm=$(cat resctrl/info/L3/cbm_mask)
ways=0
for ((v = 16#$cbm; v; v >>= 1)); do ways=$((ways + (v & 1))); done
l3_bytes=$(sed -n "s/^ *L3:.*\\b$dom=\\([0-9]*\\).*/\\1/p" resctrl/size)
way_bytes=$((l3_bytes / ways))
quarter=$(printf '%x' $(((1 << (ways / 4)) - 1)))
three_quarters=$(printf '%x' $(((1 << (3 * ways / 4)) - 1)))
show "cat resctrl/info/L3/cbm_mask resctrl/info/L3/num_closids"
note "$ways ways in L3 domain $dom ($(human "$l3_bytes"), $(human $way_bytes) a way); each CLOSID is a PARTID"
ways_in() { # how many ways' worth of bytes
    awk -v b="$1" -v w="$way_bytes" 'BEGIN { printf (b % w ? "%.1f" : "%d"), b / w }'
}

say "A control group, as the walkthrough makes one: mkdir takes a PARTID; schemata gives it $((ways / 4)) of the $ways ways"
show "mkdir resctrl/partid_space_2"
show "echo 'L3:$dom=$quarter' > resctrl/partid_space_2/schemata"
show "cat resctrl/partid_space_2/schemata"
note "on each MSC of the L3 the driver selects the PARTID, then writes its portion bitmap:"
show "mpam trace --kind mmio --last 40 | grep -e PART_SEL -e CPBM | tail -n 2"

say "A mask the kernel refuses (no ways at all): nothing changes, and last_cmd_status says why"
refused "echo 'L3:$dom=0' > resctrl/partid_space_2/schemata"
show "cat resctrl/partid_space_2/schemata"

say "Move a task into the group: its next context switch carries the group's PARTID in MPAM0_EL1"
pid=$(mpam ps | awk '$2 == "[rcu_preempt]" { print $1 }')
show "echo $pid > resctrl/partid_space_2/tasks"
show "cat resctrl/partid_space_2/tasks"
show "mpam ps | awk 'NR == 1 || \$1 == $pid'"

say "Monitoring: CSU monitors give llc_occupancy, MBWU monitors mbm_total_bytes"
show "cat resctrl/info/L3_MON/mon_features resctrl/info/L3_MON/num_rmids"
has_mbm=$(grep -c '^mbm_total_bytes$' resctrl/info/L3_MON/mon_features || true)
if [ -e resctrl/info/L3_MON/available_mbm_cntrs ]; then
    show "cat resctrl/info/L3_MON/mbm_assign_mode resctrl/info/L3_MON/available_mbm_cntrs"
    note "fewer bandwidth counters than labels: resctrl assigns them to groups ([mbm_event] mode)"
elif [ "$has_mbm" = 0 ]; then
    note "no MBWU monitor the driver can give the L3's domains here: llc_occupancy only"
fi

say "Traffic: a streaming task in the group can fill only the group's $((ways / 4)) ways of the L3"
printf '$ %s\n' "mpam run --cpu 2 stream:footprint=64MiB"
stream=$(mpam run --cpu 2 stream:footprint=64MiB)
echo "$stream"
show "echo $stream > resctrl/partid_space_2/tasks"
show "mpam step 100ms"
occ=resctrl/partid_space_2/mon_data/$mon/llc_occupancy
mbm=resctrl/partid_space_2/mon_data/$mon/mbm_total_bytes
show "cat $occ"
note "bytes of L3 the group holds: $(human "$(cat $occ)"), $(ways_in "$(cat $occ)") of $ways ways"
before=0
if [ "$has_mbm" != 0 ]; then
    show "cat $mbm"
    before=$(cat $mbm)
    if [ "$before" = 0 ]; then
        note "0: none of the group's traffic has reached memory yet"
    else
        note "bytes the group moved to and from memory: $(human "$before")"
    fi
fi

say "Give the group $((3 * ways / 4)) ways: its occupancy grows to match"
show "echo 'L3:$dom=$three_quarters' > resctrl/partid_space_2/schemata"
show "mpam step 100ms"
show "cat $occ"
note "$(human "$(cat $occ)"), $(ways_in "$(cat $occ)") of $ways ways"
if [ "$has_mbm" != 0 ]; then
    show "cat $mbm"
    after=$(cat $mbm)
    note "$(human $((after - before))) more in 100 ms of simulated time: $(awk -v d=$((after - before)) 'BEGIN { printf "%.2f", d / 0.1 / 1e9 }') GB/s"
fi
show "mpam stats"

say "The machine's /sys/devices/system/cpu, as Linux's cacheinfo reads it from the PPTT: the L3's id is resctrl's domain"
show "mkdir -p cpu"
show "mpam sysfs cpu"
show "cat cpu/online cpu/cpu0/cache/index3/id cpu/cpu0/cache/index3/size"
show "mpam umount cpu"

say "Unmodified clients: mpam exec runs a command with the machine as its system (resctrl, CPUs, cpuinfo)"
show "mpam exec -- sh -c 'grep resctrl /proc/self/mountinfo; head -n 8 /proc/cpuinfo | grep -v Features'"
note "type resctrl, as runc and goresctrl look for it; arm64's cpuinfo, the platform's Neoverse N2"
show "rmdir resctrl/partid_space_2"
note "pqos takes every CLOSID for its groups COS1..: the walkthrough's group gives its own back"
show "mpam exec -- pqos -I -d | grep -A 3 'L3 CAT'"
show "ls resctrl | grep -c COS"
note "Intel's pqos found resctrl, the L3 and its ids in the machine's sysfs, and made its groups"
note "(its tables hold 16 classes, so pqos -e allocates on tiny's 16 PARTIDs: docs/clients.md)"
sleep 60 &
worker=$!
show "mpam exec -- sh -c 'echo $worker > /sys/fs/resctrl/COS1/tasks'"
note "a host process (pid $worker, a sleep) written to tasks joins the machine, with COS1's PARTID"
show "mpam ps | grep -e PID -e sleep"
kill $worker

say "An MSC error (fault injection): the driver disables MPAM, and resctrl goes away with it"
# the first MSC of the L3, by the driver's number as `mpam status` shows it (0 on rdn2)
l3_msc=$(mpam status | sed -n 's/^  class L3: [0-9]*: MSC \([0-9]*\).*/\1/p')
show "mpam inject ${l3_msc:-0} REQ_PARTID_RANGE --partid 70"
show "ls resctrl | wc -l"
show "cat resctrl/schemata 2>&1 || true"
show "mpam dmesg | tail -n 2"

say "Unmount and shut the machine down"
show "mpam umount resctrl"
show "mpam shutdown"

say "A scenario on its own rdn2: a stream slows a cache-sensitive task, until a partition gives the stream 2 of 16 ways"
cd "$root"
show "mpam scenario noisy-neighbour --out $results"

say "Watch the noisy neighbour live on a running machine: mpam monitor reads each group's mon_data every 100 ms"
cd "$out"
show "mpam boot -p $platform --paused"
show "mpam mount resctrl && mkdir resctrl/victim resctrl/noisy"
victim_kib=$((l3_bytes * 3 / 4 / 1024)) noisy_mib=$((l3_bytes * 32 / 1048576))
show "mpam run --cpu 1 zipf:footprint=${victim_kib}KiB,alpha=0.6 > resctrl/victim/tasks"
show "mpam run --cpu 2 stream:footprint=${noisy_mib}MiB > resctrl/noisy/tasks"
show "mpam monitor --count 1 --format text"
note "the stream holds most of the L3, and the victim misses to memory"
show "echo 'L3:$dom=3' > resctrl/noisy/schemata"
show "mpam monitor --count 2 --format text"
note "confined to 2 ways, the stream lets the victim keep its working set: occupancy up, bandwidth down, IPC up"
show "mpam umount resctrl"
show "mpam shutdown"

say "Done: where the files are"
echo "tables, their decodes and the inventory: $out"
echo "the scenario's CSV, JSON and plot: $results"
