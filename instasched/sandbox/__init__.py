"""A fake Instagram Graph API that enforces Meta's rules, for tests and the demo.

Same paths and JSON as the Graph API. State is kept in `sandbox.sqlite3` in INSTASCHED_DATA_DIR
(`state.py`; docs/sandbox.md, "Where it runs, and its state"): it survives a restart, and every
process serving the sandbox (mounted in `instasched api`, or `instasched sandbox` alone) shares
it.
"""
