"""The `orchestra` command: the top floor, which drives every part below it."""
