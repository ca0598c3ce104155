"""The synthetic practice: a whole practice made up from a seed with Faker. Same seed and day, same data.

Nothing here is real: names, addresses and member ids come from Faker and a seeded random generator; NPIs
are made valid with the Luhn rule but are drawn from a range no real provider is checked against here.
Rows are generated as plain dicts and inserted in bulk (executemany), so seeding 100k patients is quick.

The package, by responsibility: ``reference`` (payers, licenses, training, the claim status mix), ``rows`` (the
seeded generators and id/NPI/time helpers), ``staff``, ``patients`` and ``visits`` (each part's rows),
``practice`` (``SyntheticPractice``: the order the parts are drawn in) and ``seeding`` (``seed_practice``,
``insert_practice``).
"""

from __future__ import annotations

from workers.synthetic.practice import SyntheticPractice
from workers.synthetic.reference import CLAIM_STATUS_MIX, OTHER_STATE_LICENSES, PAYERS, TRAINING, SyntheticPayer
from workers.synthetic.seeding import SeedSummary, insert_practice, seed_practice

__all__ = [
    "CLAIM_STATUS_MIX",
    "OTHER_STATE_LICENSES",
    "PAYERS",
    "TRAINING",
    "SeedSummary",
    "SyntheticPayer",
    "SyntheticPractice",
    "insert_practice",
    "seed_practice",
]
