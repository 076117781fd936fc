"""``evalkit-lm-eval ...`` (or ``python -m evalkit.integrations.lmeval.cli ...``): lm-eval's own CLI,
unchanged, in a process where the ``evalkit-vllm`` model is registered (lm-eval 0.4.13 has no plugin
discovery for models)."""

from __future__ import annotations

import importlib
import sys


def lm_eval_main() -> None:
    """Run lm-eval's CLI (``sys.argv`` as given) with ``evalkit-vllm`` registered."""
    try:  # the model module needs lm-eval (optional): imported by name, registering evalkit-vllm
        importlib.import_module("evalkit.integrations.lmeval.model")
    except ImportError as e:
        sys.stderr.write(f"error: evalkit-lm-eval needs lm-eval (pip install 'evalkit[lmeval]'): {e}\n")
        raise SystemExit(2) from None
    from lm_eval.__main__ import cli_evaluate

    cli_evaluate()


if __name__ == "__main__":
    lm_eval_main()
