"""The claim kinds evalkit ships, one module each; importing a module registers its kind
(:func:`evalkit.claims.registry.claim_kind`). A new kind: its module here and one line below."""

from evalkit.claims.kinds import (  # noqa: F401  (imported to register)
    control_token,
    ladder_step,
    ladder_trend,
    length_confound,
    matched_compute,
    needs_generations,
    seed_variance,
    two_systems,
)
