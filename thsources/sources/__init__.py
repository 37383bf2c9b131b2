"""One module per source kind; ``base`` holds the contract and the registry.

Kinds are imported on first use (``connect("redash")`` imports ``thsources.sources.redash``),
and no source module imports another.
"""
