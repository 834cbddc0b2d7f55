/* SPDX-License-Identifier: MIT */
/* Inside the PostgreSQL backend (store layer): the connection struct and what store_pg.c and
 * store_pg_migrate.c share. With store_pg*.c, the only files that include libpq-fe.h. */
#ifndef HB_STORE_STORE_PG_H
#define HB_STORE_STORE_PG_H

#include <libpq-fe.h>

#include "store/store_internal.h"

/* Prepared-statement slots: the fixed statements, then the topic list variants (category filter
 * x search filter x 6 orders) and their counts. */
#define HB_PG_MAX_SLOTS 128

struct hb_store__pg_conn {
    struct hb_store_conn base; /* first: the front casts between the two */
    PGconn *pg;
    bool prepared[HB_PG_MAX_SLOTS]; /* cleared when the connection is reset */
    bool in_tx;                     /* an explicit transaction is open */
    int n_run;                      /* statements the current operation has run */
    struct hb_buf scratch;          /* search terms; reused across calls */
};

/* Maps a failed result to an HB_E* code (HB_EEXIST for unique violations, HB_ECONFLICT for
 * foreign keys, HB_EINVAL for other constraints and bad values, HB_EBUSY for lock timeouts,
 * deadlocks and serialization failures), logging the unexpected ones with what (a label). */
int hb_store__pg_err(struct hb_store__pg_conn *c, const PGresult *res, const char *what);

/* Runs fixed SQL (no parameters, several statements allowed) with the simple query protocol. */
int hb_store__pg_exec(struct hb_store__pg_conn *c, const char *sql);

/* The schema migration (hb_store_migrate). Runs on the writer. */
int hb_store__pg_migrate(struct hb_store__pg_conn *c);

#endif
