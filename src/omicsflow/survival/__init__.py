"""Survival statistics: log-rank scans, cutpoints, Cox models, C-index, Kaplan–Meier."""
