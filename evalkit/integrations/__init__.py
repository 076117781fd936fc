"""evalkit at the edge: other harnesses and schedulers, each optional.

- :mod:`evalkit.integrations.lmeval`: lm-evaluation-harness (the ``evalkit-vllm`` model for lm-eval,
  s1's ``gen_kwargs``, sample logs in and out, ``evalkit-lm-eval``);
- :mod:`evalkit.integrations.slurm`: job arrays through submitit, on Slurm or local processes, and
  where a submitted sweep stands (``evalkit status``).

The pipeline names the executors here by kind (:data:`evalkit.pipeline.executors.EXECUTORS`) and never
imports them.
"""
