"""`python -m web` is the same as the `vendtrack` command."""

from web.cli import main

main()
