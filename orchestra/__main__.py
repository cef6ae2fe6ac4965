"""`python -m orchestra` is the `orchestra` command."""

from orchestra.core.cli import app

app(prog_name="orchestra")
