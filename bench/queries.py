"""Text queries shared by the search and latency benchmarks, so their figures describe the same work."""

TEXT_QUERIES = [
    "sad piano melody in A minor",
    "fast violin jig in 6/8",
    "slow chorale for choir in D major",
    "bright waltz for strings",
    "Andante flute tune around 90 bpm",
    "dark cello line",
]
