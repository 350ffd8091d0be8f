"""Fault injection: latency, 429s, 500s, dropped connections and slow bodies."""
from __future__ import annotations

import random
import threading


class Faults:
    """Fault injection for execute requests (or all requests with scope='all').

    latency: seconds added to every matching request; rate_429 / rate_500 / rate_drop /
    rate_slow: probabilities; slow_seconds: how long a slow response takes to trickle out;
    retry_after: Retry-After header value on 429s (None: no header); seed: RNG seed.
    """

    FIELDS = ("latency", "rate_429", "rate_500", "rate_drop", "rate_slow", "slow_seconds",
              "retry_after", "scope", "seed")

    def __init__(self, **kw):
        self.lock = threading.Lock()
        self.set(latency=0.0, rate_429=0.0, rate_500=0.0, rate_drop=0.0, rate_slow=0.0,
                 slow_seconds=1.0, retry_after=None, scope="execute", seed=None)
        self.set(**kw)

    def set(self, **kw):
        unknown = set(kw) - set(self.FIELDS)
        if unknown:
            raise ValueError(f"unknown fault settings {sorted(unknown)}; known: {self.FIELDS}")
        with self.lock:
            for k, v in kw.items():
                if k.startswith("rate_") and not (0.0 <= float(v) <= 1.0):
                    raise ValueError(f"{k} must be within 0..1")
                setattr(self, k, v)
            if "seed" in kw:
                self.rng = random.Random(kw["seed"])

    def as_dict(self):
        return {k: getattr(self, k) for k in self.FIELDS}

    def draw(self):
        """The fault for one request: None, '429', '500', 'drop' or 'slow'."""
        with self.lock:
            r = self.rng.random()
            for name, rate in (("drop", self.rate_drop), ("429", self.rate_429),
                               ("500", self.rate_500), ("slow", self.rate_slow)):
                if r < rate:
                    return name
                r -= rate
        return None
