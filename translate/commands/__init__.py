"""CLI subcommands: each module defines ``register(subparsers)`` and imports torch lazily."""
