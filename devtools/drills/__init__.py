"""The fault drills of `make drill` (`python -m devtools.drill`), split by what they run against:

- `lane`: one lane of the delivery guarantee (writer → outbox → two relays → Kafka → two consumers →
  inbox + effect) in the drill process, against real PostgreSQL and Kafka that the drills stop and kill;
- `stack`: the four services as real processes (two replicas where the drill needs them) with the
  SMTP server and the SMSC, orders posted over HTTP, counted at the edges (tickets, timers, alerts,
  e-mails and SMS received);
- `common`: the result row, the table, the server faults (PostgreSQL, Kafka).
"""
