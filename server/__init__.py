"""The composition root: the `classroom` command, and the wiring of every layer into one app.

The one place that reads flags and the environment and knows every package;
nothing below imports it.
"""
