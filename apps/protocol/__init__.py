"""The OAuth vocabulary every app speaks: one exception class per error code, the one
renderer of the endpoints' JSON answers, and how request parameters are read."""
