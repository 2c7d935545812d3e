"""The container target: ``airdeck run COMPONENT`` renders one component from the plan and execs it."""
