"""LIFT: Language-Interfaced Fine-Tuning for tabular classification and regression.

The modules directly under this package are a plain-Python method library (no Kedro imports):
``synthetic`` and ``acquisition`` make raw tables, ``preprocessing`` cleans them, ``splits``
applies the paper's protocol, ``baselines`` fits the paper's classical models, ``metrics`` and
``reporting`` score and summarise. ``pipelines/`` wires them into Kedro.
"""

__version__ = "0.1.0"
