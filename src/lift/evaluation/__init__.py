"""How answers are judged: ``baselines`` (the paper's classical models, fitted and scored as
LIFT is), ``metrics`` (accuracy, F1, log-loss, calibration, RAE and the rest) and
``reporting`` (tables and plots of a run's results).

Imports ``lift.config`` and ``lift.data`` only; never Kedro, never ``method`` or a wing above
it."""
