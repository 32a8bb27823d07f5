-- One PostgreSQL role per service, owning only its own schema, and a migration role that can act as each of
-- them (docs/security.md, item 6). Run by the database's administrator, in the suite's database:
--   docker-compose: /docker-entrypoint-initdb.d (the first start of the postgres volume);
--   Kubernetes: the db-roles Job (deploy/k8s/db-roles-job.yaml), before the migration Job.
-- Idempotent: a second run changes nothing but the passwords (a rotation). The passwords come from the
-- environment (psql \getenv, PostgreSQL 15+ client; the server must be 16+ for GRANT ... WITH SET):
-- CRM_DB_PASSWORD, EOMS_DB_PASSWORD, SLA_DB_PASSWORD, NOTIFY_DB_PASSWORD, STATS_DB_PASSWORD, MIGRATOR_DB_PASSWORD.
--
--   role                 may                                           DATABASE_URL of
--   groupsuite_crm       own schema crm (tables, sequences, DDL there)   the crm service
--   groupsuite_eoms      own schema eoms                                 the eoms-bridge service
--   groupsuite_sla       own schema sla                                  the sla service
--   groupsuite_notify    own schema notify                               the notify service
--   groupsuite_stats     own schema stats                                the stats service
--   groupsuite_migrator  SET ROLE to the five (not inherit them)         the release task (migrations)
-- None of them is a superuser, creates databases or roles, or may create anything in public.
\set ON_ERROR_STOP on
\getenv crm_password CRM_DB_PASSWORD
\getenv eoms_password EOMS_DB_PASSWORD
\getenv sla_password SLA_DB_PASSWORD
\getenv notify_password NOTIFY_DB_PASSWORD
\getenv stats_password STATS_DB_PASSWORD
\getenv migrator_password MIGRATOR_DB_PASSWORD
-- An unset variable would leave the literal :'name' below; stop and say which instead.
SELECT :{?crm_password} AND :{?eoms_password} AND :{?sla_password} AND :{?notify_password} AND :{?stats_password}
       AND :{?migrator_password} AS passwords_ok \gset
\if :passwords_ok
\else
  DO $$ BEGIN RAISE EXCEPTION 'set CRM_DB_PASSWORD, EOMS_DB_PASSWORD, SLA_DB_PASSWORD, NOTIFY_DB_PASSWORD, STATS_DB_PASSWORD and MIGRATOR_DB_PASSWORD'; END $$;
\endif

SELECT format('CREATE ROLE %I', r) FROM unnest(ARRAY['groupsuite_crm', 'groupsuite_eoms', 'groupsuite_sla',
       'groupsuite_notify', 'groupsuite_stats', 'groupsuite_migrator']) AS r
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) \gexec

ALTER ROLE groupsuite_crm      LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS PASSWORD :'crm_password';
ALTER ROLE groupsuite_eoms     LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS PASSWORD :'eoms_password';
ALTER ROLE groupsuite_sla      LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS PASSWORD :'sla_password';
ALTER ROLE groupsuite_notify   LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS PASSWORD :'notify_password';
ALTER ROLE groupsuite_stats    LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS PASSWORD :'stats_password';
ALTER ROLE groupsuite_migrator LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS PASSWORD :'migrator_password';

-- The database: only these roles connect; nobody creates schemas in it or objects in public.
SELECT format('REVOKE ALL ON DATABASE %I FROM PUBLIC', current_database()) \gexec
SELECT format('GRANT CONNECT, TEMPORARY ON DATABASE %I TO groupsuite_crm, groupsuite_eoms, groupsuite_sla, '
              'groupsuite_notify, groupsuite_stats, groupsuite_migrator', current_database()) \gexec
REVOKE CREATE ON SCHEMA public FROM PUBLIC;

-- Each schema belongs to its service's role (the migration role creates the tables as that role).
CREATE SCHEMA IF NOT EXISTS crm AUTHORIZATION groupsuite_crm;
CREATE SCHEMA IF NOT EXISTS eoms AUTHORIZATION groupsuite_eoms;
CREATE SCHEMA IF NOT EXISTS sla AUTHORIZATION groupsuite_sla;
CREATE SCHEMA IF NOT EXISTS notify AUTHORIZATION groupsuite_notify;
CREATE SCHEMA IF NOT EXISTS stats AUTHORIZATION groupsuite_stats;
ALTER SCHEMA crm OWNER TO groupsuite_crm;
ALTER SCHEMA eoms OWNER TO groupsuite_eoms;
ALTER SCHEMA sla OWNER TO groupsuite_sla;
ALTER SCHEMA notify OWNER TO groupsuite_notify;
ALTER SCHEMA stats OWNER TO groupsuite_stats;
ALTER ROLE groupsuite_crm SET search_path = crm;
ALTER ROLE groupsuite_eoms SET search_path = eoms;
ALTER ROLE groupsuite_sla SET search_path = sla;
ALTER ROLE groupsuite_notify SET search_path = notify;
ALTER ROLE groupsuite_stats SET search_path = stats;

-- The migration role becomes a service's role to migrate its schema (SET ROLE), never holds its rights
-- otherwise (INHERIT FALSE): it cannot read the services' data as itself.
GRANT groupsuite_crm, groupsuite_eoms, groupsuite_sla, groupsuite_notify, groupsuite_stats TO groupsuite_migrator
  WITH INHERIT FALSE, SET TRUE;
