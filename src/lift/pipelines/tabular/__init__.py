"""The per-dataset pipeline shared by classification and regression: acquire -> prepare ->
split -> {baselines, LIFT} -> evaluate, one namespace per dataset, and a report per task."""
