"""A synthetic, deterministic stream of mentions and posts for many client organisations.

`dorpspomp simulate` exists so that the pipeline, the dashboard and the alerting can be
exercised without a collector: dozens of organisations of eight kinds (municipalities,
libraries, newspapers, broadcasters, universities, airlines, telecoms, retailers), each
with its own rhythm of the day and the week, its own audience (heavy-tailed follower
counts, a few influencers), its own way of answering (how fast at which hour, whether
employees answer under their own names, one organisation that never answers), its own
posts, shares and share cascades, and complaint surges injected at random whose ground
truth is written down, so that a surge alert can be checked against what really happened.

Everything is a pure function of the seed and the options: one `random.Random` per
organisation seeded from a string (hashed with SHA-512 by `random`, so hash
randomisation plays no part), no wall clock, no iteration over sets. Each organisation is
a generator of its own events in time order (a small heap of scheduled follow-ups inside);
`World.stream` merges those generators by time with a heap, lazily, so a live stream runs
for hours in flat memory.

The package:

- `texts` reads what people write and the world's names from `texts.yaml` and
  `names.yaml` (data, not code);
- `world` holds the kinds of organisation, the organisations of a seed, the roster and
  the ground truth of a surge;
- `generator` makes one organisation's events; `clock` the time stamps and local clocks;
- `live` is the I/O at the edges: `simulate_to_file` writes `x.jsonl`, `x.roster.yaml`
  and `x.surges.jsonl`; `simulate_live` paces the same stream into Kafka in simulated
  time;
- `history` sends weeks of history up to now as fast as the broker takes it and then
  goes on live in real time, with two planned surges (`dorpspomp up --simulate`).
"""

from pipelines.simulate.live import (
    SimulationReport,
    simulate_live,
    simulate_to_file,
    surges_path_for,
)
from pipelines.simulate.world import (
    KINDS,
    OrgProfile,
    Surge,
    World,
    scale_for_events_per_day,
    world,
)

__all__ = [
    "KINDS",
    "OrgProfile",
    "SimulationReport",
    "Surge",
    "World",
    "scale_for_events_per_day",
    "simulate_live",
    "simulate_to_file",
    "surges_path_for",
    "world",
]
