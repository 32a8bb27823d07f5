"""Everything that only runs the suite on a developer's machine, in tests and in benchmarks.

infra (PostgreSQL + Kafka launcher), suite (`make run`), smtp (recording SMTP server), smsc (SMSC
simulator), demo (CRM demo data). Dev tools may import the runtime (backbone, the service packages);
the runtime never imports devtools, and the production image does not ship it.
"""
