"""`python -m orchestra` is the `orchestra` command."""

from orchestra.cli.app import app

app(prog_name="orchestra")
