"""The entry point of a running machine's process: the daemon, able to mount FUSE.

`mpam boot` runs ``python -m mpam.fuse.serve --name NAME --platform P``. It lives in the top
layer because the process serves the machine (mpam.machine.daemon) and its FUSE mounts
(mpam.fuse) together.
"""

from __future__ import annotations

import argparse
import sys

from mpam.fuse.proc_fuse import mount_proc
from mpam.fuse.resctrl_fuse import mount
from mpam.fuse.tree_fuse import mount_tree
from mpam.machine.daemon import DEFAULT_SAMPLE, Mounters, serve

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="mpam.fuse.serve")
    parser.add_argument("--name", required=True)
    parser.add_argument("--platform", required=True)
    parser.add_argument("--paused", action="store_true")
    parser.add_argument("--sample", type=int, default=DEFAULT_SAMPLE)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--lock-fd", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    return serve(
        args.name,
        args.platform,
        Mounters(resctrl=mount, tree=mount_tree, proc=mount_proc),
        paused=args.paused,
        sample=args.sample,
        seed=args.seed,
        lock_fd=args.lock_fd,
    )


if __name__ == "__main__":
    sys.exit(main())
