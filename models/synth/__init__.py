"""Synthetic training and evaluation data, labelled by construction.

``emails`` writes support emails (and the reply each deserves), ``short`` writes review snippets
and social posts; ``splits`` keeps their train and eval vocabularies disjoint. The word lists live
beside each generator (``email_lists``, ``short_lists``).
"""
