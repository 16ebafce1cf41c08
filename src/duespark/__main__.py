"""Allow ``python -m duespark``."""

from duespark.cli import main

main()
