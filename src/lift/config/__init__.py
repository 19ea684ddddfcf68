"""The configuration every wing reads: the typed, validated settings of LIFT (``lift``: the
``lift`` section of the parameters) and the project's errors (``errors``: what was wrong,
where, and what to do).

The bottom wing: it imports nothing else from ``lift``, and never Kedro."""
