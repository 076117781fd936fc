"""evalkit: a statistically rigorous evaluation harness for test-time scaling of reasoning LLMs.

Stages (each a package; none imports a later one):
``spec`` -> ``generate`` -> ``grade`` -> ``analyze`` -> ``report``, plus ``store`` and ``cli``.
Typed records passed between stages live in :mod:`evalkit.records`.
"""

__version__ = "0.1.0"
