"""python -m ocfkit."""

from ocfkit.cli import main

raise SystemExit(main())
