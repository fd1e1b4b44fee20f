"""`python -m mpam.cli`: the `mpam` command, for when the entry point is not on PATH."""

from mpam.cli import main

main(prog_name="mpam")
