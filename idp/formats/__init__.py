"""Date formats of our own, per language (``FORMAT_MODULE_PATH``); Django's serve the rest."""
