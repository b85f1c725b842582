"""Guarded rollouts: upgrade a fleet in waves, bake each wave under the judge, halt on budget.

``plans`` (wave arithmetic) and ``budgets`` (failure budgets) are pure; ``opening`` stores a
pending rollout from a plan; ``conducting`` drives open rollouts to their end inside the
controller (on the durable-controller skeleton it shares with runs, ``execute.serve_loop``);
``reports`` turns the store's record of a rollout into the summary people and tools read.
"""
