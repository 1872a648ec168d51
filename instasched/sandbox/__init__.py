"""A fake Instagram Graph API that enforces Meta's rules, for tests and the demo.

Same paths and JSON as the Graph API. State is kept in memory, per process (documented in the
README): run `instasched api` with one worker when the sandbox is mounted, or run
`instasched sandbox` alone and point `SANDBOX_URL` at it.
"""
