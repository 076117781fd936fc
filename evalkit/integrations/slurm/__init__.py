"""Sweeps as job arrays: Slurm (submitted and left running; :mod:`.executor`), submitit's local
executor (:mod:`.arrays`), and where a sweep stands (:mod:`.status`)."""
