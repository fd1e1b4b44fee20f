"""The simulation: what tasks run on the machine and what that does to its caches and memory.

`mpam.sim.workload` describes a task's workload (phases of memory behaviour, parsed from a
one-line spec such as ``stream:footprint=64MiB,cpi=0.5`` or from TOML, and recorded traces).
"""

from mpam.sim.workload import (
    KINDS,
    LINE,
    TRACE_INSTR,
    TRACE_WRITE,
    Phase,
    Trace,
    Workload,
    WorkloadError,
    chase_cycle,
    parse_duration,
    parse_workload,
    read_trace,
    sample_trace,
    workload_from_toml,
    zipf_cdf,
)

__all__ = [
    "KINDS",
    "LINE",
    "TRACE_INSTR",
    "TRACE_WRITE",
    "Phase",
    "Trace",
    "Workload",
    "WorkloadError",
    "chase_cycle",
    "parse_duration",
    "parse_workload",
    "read_trace",
    "sample_trace",
    "workload_from_toml",
    "zipf_cdf",
]
