"""What LIFT is, usable from a notebook: ``encoding`` (how numbers are written),
``serialization`` (a row as a prompt, its target as a completion), ``language_model`` (the
base model, its device and precision), ``fine_tuning`` with ``batched_lora`` and ``batching``
(LoRA adapters trained alone or many at once), ``prediction`` (class scoring and generation),
``parsing`` (text back to a label or a number), ``prior_correction``, ``tasks`` (what differs
between classification and regression), ``learner`` (fine-tune, then predict, per repeat),
``new_rows`` (a trained model on rows it has never seen), ``in_context`` and ``two_stage``
(the paper's alternatives to plain fine-tuning) and ``phases`` (where a run's time goes).

Imports ``lift.config``, ``lift.data`` and ``lift.evaluation``; never Kedro, never ``studies``,
``project`` or ``pipelines``."""
