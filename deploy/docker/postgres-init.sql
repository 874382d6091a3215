-- Run once by the postgres image on an empty data volume (docker-entrypoint-initdb.d), as the
-- POSTGRES_USER superuser. One database per service; each service creates its own tables
-- (eventsourcing CREATE_TABLE) on start.
CREATE DATABASE intake;
CREATE DATABASE assignment;
CREATE DATABASE sequence;
CREATE DATABASE referral;
