"""The specialist agents: their instructions, tool tiers and model tiers; and the design compiler."""
