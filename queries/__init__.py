"""The named queries shipped with thsources (installed as ``thsources._queries``)."""
