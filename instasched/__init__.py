"""instasched: schedule and auto-publish Instagram posts, exactly once."""

__version__ = "0.1.0"
