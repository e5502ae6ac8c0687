"""Shipped configuration files (YAML), installed as the package data of ``crossbar._configs``.

This file only makes the folder a package for the build (pyproject ``package-dir``); read the files
through `crossbar.resources` (``config_file``, ``list_config_files``), never by path arithmetic.
"""
