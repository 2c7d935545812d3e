"""Where airdeck keeps its state ($AIRDECK_HOME) and the secrets it generates."""
