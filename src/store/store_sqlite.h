/* SPDX-License-Identifier: MIT */
/* Inside the SQLite backend (store layer): the connection struct and the helpers that
 * store_sqlite.c and store_sqlite_migrate.c share. The only header besides the .c files that
 * includes sqlite3.h; nothing outside src/store/ includes it. */
#ifndef HB_STORE_STORE_SQLITE_H
#define HB_STORE_STORE_SQLITE_H

#include <sqlite3.h>

#include "store/store_internal.h"

/* Fixed statements, prepared on first use and kept for the connection's life. */
#define HB_SQ_MAX_STMTS 96
/* Topic list variants: category filter × FTS terms × short terms × 6 orders. */
#define HB_SQ_TOPIC_VARIANTS (2 * 2 * 2 * 6)
#define HB_SQ_TOPIC_COUNTS   (2 * 2 * 2)
/* Statements one operation may use; all are reset when it ends. */
#define HB_SQ_MAX_USED 16

struct hb_store__sqlite_conn {
    struct hb_store_conn base; /* first: the front casts between the two */
    sqlite3 *db;
    sqlite3_stmt *stmts[HB_SQ_MAX_STMTS];
    sqlite3_stmt *topic_rows[HB_SQ_TOPIC_VARIANTS];
    sqlite3_stmt *topic_counts[HB_SQ_TOPIC_COUNTS];
    sqlite3_stmt *used[HB_SQ_MAX_USED];
    int n_used;
    struct hb_buf scratch; /* search expressions; reused across calls */
};

/* Maps a SQLite result code to an HB_E* code (HB_EEXIST for UNIQUE and PRIMARY KEY, HB_ECONFLICT
 * for FOREIGN KEY, HB_EINVAL for other constraints, HB_EBUSY for BUSY and LOCKED), logging the
 * unexpected ones with the connection's message and what (a short label). */
int hb_store__sqlite_err(struct hb_store__sqlite_conn *c, int rc, const char *what);

/* Runs fixed SQL text (no parameters, several statements allowed). Returns 0 or an error. */
int hb_store__sqlite_exec(struct hb_store__sqlite_conn *c, const char *sql);

/* The schema migration (hb_store_migrate). Runs on the writer. */
int hb_store__sqlite_migrate(struct hb_store__sqlite_conn *c);

#endif
