"""The deployment plan: what runs where, as data, built from airdeck.yaml without I/O."""
