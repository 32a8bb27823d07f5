"""Sending: claim a due delivery, talk to the server, commit the outcome; receipts; crash recovery.

- `workers.py`   the dispatch workers: claim a batch + send it concurrently
- `wakeup.py`    the wake-up call of idle workers (after a commit that queued rows)
- `lease.py`     this instance's liveness lock, and the recovery of rows of dead instances
- `outcomes.py`  sent / retry with backoff / failed + DLQ, each committed with its event
- `receipts.py`  SMSC delivery receipts → delivered / failed
- the channel adapters (one protocol, e-mail and SMS) are in `notify.channels`

Exactly-once per delivery row, with one unavoidable window:

1. A worker claims up to DISPATCH_BATCH due rows and marks them `sending` (claimed_by = this instance)
   in a single committed statement (`FOR UPDATE SKIP LOCKED`: two workers or instances never take one
   row), then sends them concurrently.
2. It sends (SMTP: one message; SMPP: part by part, each part's SMSC message id committed as soon
   as the SMSC acknowledges it).
3. It commits `sent` (+ the final part id, + the event) right away (grouped with the other `sent`
   outcomes ready at that moment, `outcomes.py`), with `synchronous_commit=off`
   (our process dying cannot lose a commit PostgreSQL has acknowledged; only a PostgreSQL crash
   could, and then the row falls back to step 4).

Each instance holds a PostgreSQL advisory lock for its lifetime; PostgreSQL drops it when the
process dies. `recover()` hands `sending` rows of instances whose lock is free back to the queue
at once (no timeout to wait out), marked `uncertain`. Those rows are the window: killed after the
server accepted a message and before its `sent` commit (a commit or two: milliseconds), it is sent
again; at most one claimed batch per worker (DISPATCH_BATCH rows) is in `sending` at a kill. The
copy is recognisable: e-mail keeps its Message-ID (derived from the delivery id), SMS parts already
acknowledged are not submitted again. Everywhere else a crash loses nothing and
doubles nothing.
"""
