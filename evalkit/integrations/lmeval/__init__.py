"""lm-evaluation-harness interoperability: s1's ``gen_kwargs`` (:mod:`.gen_kwargs`), the
``evalkit-vllm`` model for lm-eval (:mod:`.model`; importing it registers the model and needs
``lm_eval``), lm-eval sample logs in and out (:mod:`.samples`, :mod:`.io`) and ``evalkit-lm-eval``
(:mod:`.cli`)."""
