"""The run record: a run's lifecycle (`recorder`), its journal in the spool (`journal`),
what it ran with (`environment`: git, libraries, platform) and content hashes (`hashing`).

Standard library only at import time: a recording script never pays for TinyDB, wrapt or
a store driver here.
"""
