"""Scheduled backups as a part of the plan: the ``backup`` component (its work is in ``airdeck.ops``)."""
