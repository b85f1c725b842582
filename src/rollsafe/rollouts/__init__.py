"""Guarded rollouts: upgrade a fleet in waves, bake each wave under the judge, halt on budget.

``plans`` (wave arithmetic) and ``budgets`` (failure budgets) are pure; ``opening`` stores a
pending rollout from a plan; ``driving`` is the durable executor the controller runs;
``reports`` turns the store's record of a rollout into the summary people and tools read.
"""
