"""Where tables come from and how they are cut: ``acquisition`` (files, OpenML, R datasets,
scikit-learn's tables), ``synthetic`` (the paper's functions and 2-D sets), ``preprocessing``
(a table cleaned and typed), ``splits`` (the paper's protocol, repeats), ``variants`` (how the
studies change rows and labels), ``images`` (pixels as a table) and ``entry`` (one dataset's
whole configuration).

Imports ``lift.config`` only; never Kedro, never a wing above it (``evaluation``, ``method``,
``studies``, ``project``, ``pipelines``)."""
