"""`python -m web` is the same as the `vendtrack` command."""

from web.console import main

main()
