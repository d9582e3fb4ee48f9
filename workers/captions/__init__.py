"""Captions from speech timings: words, cue segmentation, WebVTT/SRT writers, burn-in filter.

Flow: `words.read_words` (timings + script text -> timed written words), `segment.segment_cues`
(words -> cues that follow `rules.CaptionRules`), `formats` (cues -> WebVTT, SRT, JSON),
`check.find_violations` (an independent audit of the cues against the rules).
"""
