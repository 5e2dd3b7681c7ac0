"""Running the suite on both Debian releases (scripts/other-release.sh)."""
