"""Access tokens: their claims, signing and rows, verification of tokens that come back,
lineage (exchanged tokens and their parents) and revocation."""
