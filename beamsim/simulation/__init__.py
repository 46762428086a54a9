"""The simulation wing: channel back-ends, beam codebook, RSRP measurement, masks, generation."""

from beamsim.simulation.generate import GenerationStats, generate, merge, parse_shard, simulate

__all__ = ["generate", "merge", "simulate", "parse_shard", "GenerationStats"]
