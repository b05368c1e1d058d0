"""Evaluating metrics themselves: agreement with human ratings (:mod:`.correlate`, :mod:`.stats`),
fitting SeSS's constants (:mod:`.fit`), and the transformation-suite separation table
(:mod:`semcom.transforms.separation`). Command line: ``python -m semcom.meta {correlate,fit,separation}``.
"""
