"""Small helpers: console output, logging setup."""
