"""Defaults of the repository's life-cycle policies (pure values, cheap to import)."""

#: How many recent states of each alias pin their versions (``--history-depth``).
HISTORY_DEPTH = 5
#: How long gc leaves unreferenced objects and leftovers alone (``--grace``), in seconds.
GRACE_SECONDS = 3600
