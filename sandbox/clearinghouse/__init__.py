"""The sandbox clearinghouse and its payers: an outside system the platform talks X12 5010 to.

Accepts 837P batches (HTTP ``POST /clearinghouse/x12/837`` or the drop folder), answers a 999 and a 277CA
(front-end payer edits in :mod:`sandbox.clearinghouse.edits`), adjudicates with per-payer fee schedules and rules
(:mod:`sandbox.clearinghouse.payers`, :mod:`sandbox.clearinghouse.adjudication`), releases 835s after each payer's
delay in sandbox time, and answers 270 -> 271 and 276 -> 277 in real time. Deterministic from a seed.

Forced outcomes the tests rely on (full tables in docs/clearinghouse.md):

* 277CA rejections: unknown payer A3:116, bad billing NPI A7:562:85, missing member id A6:164, missing
  subscriber birth date A6:158, future date of service A7:187, member not on the roster A3:97, birth date
  mismatch A7:158, coverage not in effect A3:109.
* Claim denials: duplicate CLM01 CO-18, past timely filing CO-29, rendering NPI check digit CO-16/N290.
* Line denials: SBXSM 90791 without prior authorization CO-197/M62; 36415 with a lab panel CO-97/M15 (not
  Medicare); POS 02/10 without 95/93/GT/FQ CO-16/M77; first diagnosis Z0000 on a problem E/M CO-50/N115|N130;
  code not on the fee schedule CO-16/M51.
* SBXMD (35-day delay) pays PLB L6 interest; admin follow-ups force reversals (CLP02=22 + corrected claim) and
  recoupments (PLB WO); shortfalls carry forward as PLB FB.

Imports: only the domain codecs (domain.x12, domain.remittance, domain.codes, domain.catalog, domain.money).
"""
