"""Packaging: the files airdeck ships, the installed wheel, and the docs that name every package."""
