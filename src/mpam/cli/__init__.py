"""The `mpam` command. Each subcommand's --help is its manual."""

from __future__ import annotations

import click

from mpam.cli.acpi import acpi
from mpam.cli.inventory import inventory
from mpam.cli.machine import boot, cpu, dmesg, mount, ps, shutdown, status, trace, umount
from mpam.cli.platforms import platform
from mpam.cli.scenario import scenario
from mpam.cli.sim import kill, run, stats, step, time_

__all__ = ["main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="mpam")
def main() -> None:
    """An executable Arm MPAM machine: MSC hardware, ACPI tables, the Linux driver, resctrl."""


main.add_command(acpi)
main.add_command(inventory)
for _command in (boot, shutdown, status, ps, cpu, dmesg, trace, mount, umount, run, kill, stats,
                 step, time_, scenario):  # fmt: skip
    main.add_command(_command)
main.add_command(platform)
