-- Run once by orchestra.sandbox.servers.warehouse on the warehouse's DuckDB instance, before MotherDuck's MCP
-- server answers anything. Read-only only protects the database file: DuckDB can still read, glob and write host
-- files (read_csv, read_text, COPY ... TO, EXPORT DATABASE, ATTACH), fetch URLs and install extensions. These
-- settings take that away, and the last line freezes them so no query can SET them back.
-- Order matters: once external access is off, DuckDB refuses to change temp_directory.

-- No spilling to <db>.tmp beside the warehouse: a query too big for memory_limit fails instead of writing files.
SET temp_directory = '';
-- No host files, URLs, ATTACH of other files, COPY/EXPORT, extension install or load.
SET enable_external_access = false;
-- No extension fetched or loaded behind a query's back (httpfs for a URL, sqlite for an ATTACH ...).
SET autoinstall_known_extensions = false;
SET autoload_known_extensions = false;
SET allow_community_extensions = false;
-- One runaway query must not starve the host; the warehouse is a few MB.
SET memory_limit = '512MB';
SET threads = 2;
-- Last: from here on every SET or RESET of any option fails with "the configuration has been locked".
SET lock_configuration = true;
