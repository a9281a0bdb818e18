/* SPDX-License-Identifier: ISC */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "state.h"
#include "util.h"

struct state {
	sqlite3 *db;
	char *path;
	sqlite3_stmt *is_seen;
	sqlite3_stmt *insert;
	sqlite3_stmt *intend;
	sqlite3_stmt *unintend;
	sqlite3_stmt *deleting;
	sqlite3_stmt *insert_keep;
	sqlite3_stmt *drop_imported;
	sqlite3_stmt *get;
};

/* The version of the tables below (PRAGMA user_version). */
#define STATE_SCHEMA_VERSION 4
#define STR_(x) #x
#define STR(x) STR_(x)

static const char state_schema[] =
	"CREATE TABLE IF NOT EXISTS seen ("
	" account TEXT NOT NULL,"
	" folder TEXT NOT NULL,"
	" uidvalidity INTEGER NOT NULL,"
	" uid TEXT NOT NULL,"
	" size INTEGER NOT NULL,"
	" archived_size INTEGER NOT NULL,"
	" hash TEXT NOT NULL,"
	" header_hash TEXT NOT NULL,"
	" target TEXT NOT NULL,"
	" location TEXT NOT NULL,"
	" first_archived INTEGER NOT NULL,"
	" deleting INTEGER NOT NULL DEFAULT 0,"
	/* '' archived by mailhaul; else the tool it was imported from
	 * ('fetchmail', 'mpop', 'getmail'): no archived copy is known */
	" origin TEXT NOT NULL DEFAULT '',"
	" PRIMARY KEY (account, folder, uidvalidity, uid, size)"
	") WITHOUT ROWID;"
	"CREATE INDEX IF NOT EXISTS seen_content"
	" ON seen (account, folder, hash);"
	"CREATE TABLE IF NOT EXISTS folders ("
	" account TEXT NOT NULL,"
	" folder TEXT NOT NULL,"
	" uidvalidity INTEGER NOT NULL,"
	" uidnext INTEGER NOT NULL,"
	" highest_uid INTEGER NOT NULL,"
	" clean INTEGER NOT NULL,"
	" next_due INTEGER NOT NULL DEFAULT 0,"
	" PRIMARY KEY (account, folder)"
	") WITHOUT ROWID;"
	/* The delivery journal: a message being published, where to. */
	"CREATE TABLE IF NOT EXISTS journal ("
	" account TEXT NOT NULL,"
	" folder TEXT NOT NULL,"
	" uidvalidity INTEGER NOT NULL,"
	" uid TEXT NOT NULL,"
	" size INTEGER NOT NULL,"
	" archived_size INTEGER NOT NULL,"
	" hash TEXT NOT NULL,"
	" header_hash TEXT NOT NULL,"
	" target TEXT NOT NULL,"
	" location TEXT NOT NULL,"
	" first_archived INTEGER NOT NULL,"
	" start INTEGER NOT NULL,"
	" disk_size INTEGER NOT NULL,"
	" disk_hash TEXT NOT NULL,"
	" prefix BLOB NOT NULL,"
	" PRIMARY KEY (account, folder, uidvalidity, uid, size)"
	") WITHOUT ROWID;"
	/* The expiry clock: the latest time a poll of the account saw. */
	"CREATE TABLE IF NOT EXISTS clock ("
	" account TEXT PRIMARY KEY NOT NULL,"
	" high INTEGER NOT NULL"
	") WITHOUT ROWID;"
	/* Messages not fetched for skip_larger_than: reported once. */
	"CREATE TABLE IF NOT EXISTS skipped ("
	" account TEXT NOT NULL,"
	" folder TEXT NOT NULL,"
	" uidvalidity INTEGER NOT NULL,"
	" uid TEXT NOT NULL,"
	" size INTEGER NOT NULL,"
	" PRIMARY KEY (account, folder, uidvalidity, uid, size)"
	") WITHOUT ROWID;"
	/* What the last poll of an account, and of each folder, found. */
	"CREATE TABLE IF NOT EXISTS account_polls ("
	" account TEXT PRIMARY KEY NOT NULL,"
	" finished INTEGER NOT NULL,"
	" result TEXT NOT NULL,"
	" error TEXT"
	") WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS folder_polls ("
	" account TEXT NOT NULL,"
	" folder TEXT NOT NULL,"
	" display TEXT NOT NULL,"
	" finished INTEGER NOT NULL,"
	" server_msgs INTEGER NOT NULL,"
	" server_bytes INTEGER NOT NULL,"
	" next_due INTEGER NOT NULL,"
	" PRIMARY KEY (account, folder)"
	") WITHOUT ROWID;"
	"PRAGMA user_version = " STR(STATE_SCHEMA_VERSION) ";";

static char *db_error(struct state *st, const char *what)
{
	return xasprintf("state %s: %s: %s", st->path, what,
			 sqlite3_errmsg(st->db));
}

static int exec(struct state *st, const char *sql, char **err_r)
{
	char *msg = NULL;
	if (sqlite3_exec(st->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		*err_r = xasprintf("state %s: %s", st->path,
				   msg != NULL ? msg : "error");
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

/* Runs SQL whose failure changes nothing for the caller: a ROLLBACK
 * after an error already reported, a setting, the end of a read. */
static void exec_quiet(struct state *st, const char *sql)
{
	char *ignored = NULL;

	exec(st, sql, &ignored);
	free(ignored);
}

static void rollback(struct state *st)
{
	exec_quiet(st, "ROLLBACK");
}

/* Bookkeeping that a power failure may lose without harm (the expiry
 * clock, a poll's outcome) is committed without waiting for the disk:
 * the WAL keeps commits in order, so the next durable commit (a record,
 * a journal entry) carries it to disk, and losing the last of it only
 * takes the database back to an earlier, consistent state.  Records and
 * journal entries stay synchronous = FULL. */
static void state_lazy(struct state *st, bool lazy)
{
	exec_quiet(st, lazy ? "PRAGMA synchronous = NORMAL"
			    : "PRAGMA synchronous = FULL");
}

int state_read_begin(struct state *st, char **err_r)
{
	return exec(st, "BEGIN", err_r);
}

void state_read_end(struct state *st)
{
	exec_quiet(st, "COMMIT");
}

/* The database holds which mail was archived where: private to the user. */
static int prepare_dir(const char *path, char **err_r)
{
	char *copy = xstrdup(path);
	char *dir = dirname(copy);
	int ret = 0;

	if (util_mkdir_p(dir, 0700) < 0) {
		*err_r = xasprintf("state %s: cannot create %s: %s", path, dir,
				   strerror(errno));
		ret = -1;
	}
	free(copy);
	if (ret == 0) {
		int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
		if (fd < 0) {
			*err_r = xasprintf("state %s: %s", path,
					   strerror(errno));
			return -1;
		}
		close(fd);
	}
	return ret;
}

static int prepare(struct state *st, char **err_r)
{
	static const char seen_sql[] =
		"SELECT deleting FROM seen WHERE account = ? AND folder = ? "
		"AND uidvalidity = ? AND uid = ? AND (size = ?5 OR "
		"(size = 0 AND origin <> '')) ORDER BY size DESC LIMIT 1";
	static const char insert_sql[] =
		"INSERT OR REPLACE INTO seen (account, folder, uidvalidity, "
		"uid, size, archived_size, hash, header_hash, target, "
		"location, first_archived) VALUES (?,?,?,?,?,?,?,?,?,?,?)";
	static const char intend_sql[] =
		"INSERT OR REPLACE INTO journal (account, folder, uidvalidity, "
		"uid, size, archived_size, hash, header_hash, target, "
		"location, first_archived, start, disk_size, disk_hash, "
		"prefix) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)";
	static const char unintend_sql[] =
		"DELETE FROM journal WHERE account = ? AND folder = ? AND "
		"uidvalidity = ? AND uid = ? AND size = ?";
	static const char insert_keep_sql[] =
		"INSERT OR IGNORE INTO seen (account, folder, uidvalidity, "
		"uid, size, archived_size, hash, header_hash, target, "
		"location, first_archived) VALUES (?,?,?,?,?,?,?,?,?,?,?)";
	static const char drop_imported_sql[] =
		"DELETE FROM seen WHERE account = ? AND folder = ? AND "
		"uidvalidity = ? AND uid = ? AND size = 0 AND ?5 <> 0 AND "
		"origin <> ''";
	static const char get_sql[] =
		"SELECT size, deleting, origin, archived_size, hash, "
		"header_hash, target, location, first_archived FROM seen "
		"WHERE account = ? AND folder = ? AND uidvalidity = ? AND "
		"uid = ? AND (size = ?5 OR (size = 0 AND origin <> '')) "
		"ORDER BY size DESC LIMIT 1";
	static const char deleting_sql[] =
		"UPDATE seen SET deleting = 1 WHERE account = ? AND "
		"folder = ? AND uidvalidity = ? AND uid = ? AND size = ?";

	if (sqlite3_prepare_v2(st->db, seen_sql, -1, &st->is_seen, NULL) !=
		    SQLITE_OK ||
	    sqlite3_prepare_v2(st->db, insert_sql, -1, &st->insert, NULL) !=
		    SQLITE_OK ||
	    sqlite3_prepare_v2(st->db, intend_sql, -1, &st->intend, NULL) !=
		    SQLITE_OK ||
	    sqlite3_prepare_v2(st->db, unintend_sql, -1, &st->unintend,
			       NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(st->db, deleting_sql, -1, &st->deleting,
			       NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(st->db, insert_keep_sql, -1, &st->insert_keep,
			       NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(st->db, drop_imported_sql, -1,
			       &st->drop_imported, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(st->db, get_sql, -1, &st->get, NULL) !=
		    SQLITE_OK) {
		*err_r = db_error(st, "prepare");
		return -1;
	}
	return 0;
}

/* Adds COLUMN (its SQL definition DEF) to TABLE unless it is there. */
static int add_column(struct state *st, const char *table, const char *column,
		      const char *def, char **err_r)
{
	sqlite3_stmt *q = NULL;
	char *sql = xasprintf("SELECT %s FROM %s LIMIT 0", column, table);
	int r = sqlite3_prepare_v2(st->db, sql, -1, &q, NULL);

	free(sql);
	sqlite3_finalize(q);
	if (r == SQLITE_OK)
		return 0;
	sql = xasprintf("ALTER TABLE %s ADD COLUMN %s %s", table, column, def);
	r = exec(st, sql, err_r);
	free(sql);
	return r;
}

/* A database of an older mailhaul: seen.deleting came with version 3,
 * seen.origin and folders.next_due with version 4. */
static int upgrade(struct state *st, char **err_r)
{
	return add_column(st, "seen", "deleting", "INTEGER NOT NULL DEFAULT 0",
			  err_r) < 0 ||
			       add_column(st, "seen", "origin",
					  "TEXT NOT NULL DEFAULT ''",
					  err_r) < 0 ||
			       add_column(st, "folders", "next_due",
					  "INTEGER NOT NULL DEFAULT 0",
					  err_r) < 0
		   ? -1
		   : 0;
}

/* Creates or upgrades the tables, in one transaction, only when the
 * database is not at the current version: the usual open writes nothing,
 * so that parallel workers opening one state do not queue for its write
 * lock and a disk flush each. */
static int ensure_schema(struct state *st, char **err_r)
{
	sqlite3_stmt *q;
	int version = -1;

	if (sqlite3_prepare_v2(st->db, "PRAGMA user_version", -1, &q, NULL) !=
	    SQLITE_OK) {
		*err_r = db_error(st, "schema version");
		return -1;
	}
	if (sqlite3_step(q) == SQLITE_ROW)
		version = sqlite3_column_int(q, 0);
	sqlite3_finalize(q);
	if (version == STATE_SCHEMA_VERSION)
		return 0;
	if (exec(st, "BEGIN IMMEDIATE", err_r) < 0)
		return -1;
	if (exec(st, state_schema, err_r) < 0 || upgrade(st, err_r) < 0) {
		rollback(st);
		return -1;
	}
	return exec(st, "COMMIT", err_r);
}

int state_open(const char *path, struct state **st_r, char **err_r)
{
	struct state *st = xcalloc(1, sizeof(*st));

	st->path = xstrdup(path);
	if (prepare_dir(path, err_r) < 0)
		goto fail;
	if (sqlite3_open_v2(path, &st->db, SQLITE_OPEN_READWRITE, NULL) !=
	    SQLITE_OK) {
		*err_r = db_error(st, "open");
		goto fail;
	}
	sqlite3_busy_timeout(st->db, 10000);
	/* No checkpoint when the last connection closes: it waits for two
	 * disk flushes, seconds on a disk busy writing the mail just
	 * archived, at the end of every run.  The WAL stays, and is
	 * checkpointed as it grows (every 1000 pages), durably as ever. */
	sqlite3_db_config(st->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1,
			  (int *)NULL);
	/* A small page cache: lookups go through the index in order and
	 * the kernel caches the file anyway; the default 2 MB would be an
	 * eighth of a poll's memory. */
	if (exec(st,
		 "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;"
		 "PRAGMA cache_size = -512;",
		 err_r) < 0 ||
	    ensure_schema(st, err_r) < 0 || prepare(st, err_r) < 0)
		goto fail;
	*st_r = st;
	return 0;
fail:
	state_close(&st);
	return -1;
}

void state_close(struct state **stp)
{
	struct state *st = *stp;
	if (st == NULL)
		return;
	sqlite3_finalize(st->is_seen);
	sqlite3_finalize(st->insert);
	sqlite3_finalize(st->intend);
	sqlite3_finalize(st->unintend);
	sqlite3_finalize(st->deleting);
	sqlite3_finalize(st->insert_keep);
	sqlite3_finalize(st->drop_imported);
	sqlite3_finalize(st->get);
	sqlite3_close(st->db);
	free(st->path);
	free(st);
	*stp = NULL;
}

static void bind_key(sqlite3_stmt *stmt, const struct state_key *k)
{
	sqlite3_bind_text(stmt, 1, k->account, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 2, k->folder, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 3, (sqlite3_int64)k->uidvalidity);
	sqlite3_bind_text(stmt, 4, k->uid, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 5, (sqlite3_int64)k->size);
}

int state_lookup(struct state *st, const struct state_key *key, bool *seen_r,
		 bool *deleting_r, char **err_r)
{
	sqlite3_reset(st->is_seen);
	bind_key(st->is_seen, key);
	int r = sqlite3_step(st->is_seen);
	if (r != SQLITE_ROW && r != SQLITE_DONE) {
		*err_r = db_error(st, "lookup");
		return -1;
	}
	*seen_r = r == SQLITE_ROW;
	if (deleting_r != NULL)
		*deleting_r =
		    r == SQLITE_ROW && sqlite3_column_int(st->is_seen, 0) != 0;
	sqlite3_reset(st->is_seen);
	return 0;
}

int state_is_seen(struct state *st, const struct state_key *key, bool *seen_r,
		  char **err_r)
{
	return state_lookup(st, key, seen_r, NULL, err_r);
}

/* Binds the columns a seen record and a journal row share. */
static void bind_record(sqlite3_stmt *s, const struct state_record *r)
{
	bind_key(s, &r->key);
	sqlite3_bind_int64(s, 6, (sqlite3_int64)r->archived_size);
	sqlite3_bind_text(s, 7, r->hash, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 8, r->header_hash, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 9, r->target, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 10, r->location, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 11, (sqlite3_int64)r->first_archived);
}

static int step_done(sqlite3_stmt *s)
{
	int rc = sqlite3_step(s);
	sqlite3_reset(s);
	return rc == SQLITE_DONE ? 0 : -1;
}

static int insert_one(struct state *st, const void *recs, size_t i)
{
	const struct state_record *r = &((const struct state_record *)recs)[i];
	sqlite3_stmt *ins = r->keep_existing ? st->insert_keep : st->insert;

	sqlite3_reset(ins);
	bind_record(ins, r);
	sqlite3_reset(st->unintend);
	bind_key(st->unintend, &r->key);
	/* A record imported without the size gives way to the real one. */
	sqlite3_reset(st->drop_imported);
	bind_key(st->drop_imported, &r->key);
	return step_done(ins) < 0 || step_done(st->unintend) < 0 ||
			       step_done(st->drop_imported) < 0
		   ? -1
		   : 0;
}

static int intend_one(struct state *st, const void *ins, size_t i)
{
	const struct state_intent *in =
	    &((const struct state_intent *)ins)[i];
	sqlite3_stmt *s = st->intend;

	sqlite3_reset(s);
	bind_record(s, &in->rec);
	sqlite3_bind_int64(s, 12, (sqlite3_int64)in->start);
	sqlite3_bind_int64(s, 13, (sqlite3_int64)in->disk_size);
	sqlite3_bind_text(s, 14, in->disk_hash, -1, SQLITE_STATIC);
	sqlite3_bind_blob(s, 15, in->prefix, (int)in->prefix_len,
			  SQLITE_STATIC);
	return step_done(s);
}

static int unintend_one(struct state *st, const void *keys, size_t i)
{
	sqlite3_reset(st->unintend);
	bind_key(st->unintend, &((const struct state_key *)keys)[i]);
	return step_done(st->unintend);
}

/* Runs ONE(st, items, i) for i < N in one durable transaction; WHAT
 * names the work in an error.  0, or -1 with *err_r and nothing done. */
static int batch(struct state *st, int (*one)(struct state *, const void *,
					       size_t),
		 const void *items, size_t n, const char *what, char **err_r)
{
	if (exec(st, "BEGIN IMMEDIATE", err_r) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (one(st, items, i) < 0) {
			*err_r = db_error(st, what);
			rollback(st);
			return -1;
		}
	}
	/* synchronous=FULL: COMMIT returns once the WAL is fsync'd. */
	return exec(st, "COMMIT", err_r);
}

static int deleting_one(struct state *st, const void *keys, size_t i)
{
	sqlite3_reset(st->deleting);
	bind_key(st->deleting, &((const struct state_key *)keys)[i]);
	return step_done(st->deleting);
}

int state_mark_deleting(struct state *st, const struct state_key *keys,
			size_t n, char **err_r)
{
	return batch(st, deleting_one, keys, n, "record", err_r);
}

int state_record_batch(struct state *st, const struct state_record *recs,
		       size_t n, char **err_r)
{
	return batch(st, insert_one, recs, n, "record", err_r);
}

int state_intend_batch(struct state *st, const struct state_intent *in,
		       size_t n, char **err_r)
{
	return batch(st, intend_one, in, n, "journal", err_r);
}

int state_unintend_batch(struct state *st, const struct state_key *keys,
			 size_t n, char **err_r)
{
	return batch(st, unintend_one, keys, n, "journal", err_r);
}

int state_intents(struct state *st, const char *account,
		  struct state_intent **in_r, size_t *n_r, char **err_r)
{
	sqlite3_stmt *q;
	struct state_intent *in = NULL;
	size_t n = 0, cap = 0;
	int r;

	if (sqlite3_prepare_v2(
		st->db,
		"SELECT folder, uidvalidity, uid, size, archived_size, hash, "
		"header_hash, target, location, first_archived, start, "
		"disk_size, disk_hash, prefix FROM journal WHERE account = ? "
		"ORDER BY target, start",
		-1, &q, NULL) != SQLITE_OK) {
		*err_r = db_error(st, "journal");
		return -1;
	}
	sqlite3_bind_text(q, 1, account, -1, SQLITE_STATIC);
	while ((r = sqlite3_step(q)) == SQLITE_ROW) {
		if (n == cap) {
			cap = cap ? 2 * cap : 8;
			in = xrealloc(in, cap * sizeof(*in));
		}
		struct state_intent *e = &in[n++];
		memset(e, 0, sizeof(*e));
#define COL_TEXT(i) xstrdup((const char *)sqlite3_column_text(q, i))
#define COL_U64(i) ((uint64_t)sqlite3_column_int64(q, i))
		e->rec.key = (struct state_key){.account = xstrdup(account),
						.folder = COL_TEXT(0),
						.uidvalidity = COL_U64(1),
						.uid = COL_TEXT(2),
						.size = COL_U64(3)};
		e->rec.archived_size = COL_U64(4);
		snprintf(e->rec.hash, sizeof(e->rec.hash), "%s",
			 (const char *)sqlite3_column_text(q, 5));
		snprintf(e->rec.header_hash, sizeof(e->rec.header_hash), "%s",
			 (const char *)sqlite3_column_text(q, 6));
		e->rec.target = COL_TEXT(7);
		e->rec.location = COL_TEXT(8);
		e->rec.first_archived = (time_t)sqlite3_column_int64(q, 9);
		e->start = COL_U64(10);
		e->disk_size = COL_U64(11);
		snprintf(e->disk_hash, sizeof(e->disk_hash), "%s",
			 (const char *)sqlite3_column_text(q, 12));
		size_t plen = (size_t)sqlite3_column_bytes(q, 13);
		if (plen > sizeof(e->prefix))
			plen = sizeof(e->prefix);
		if (plen > 0)
			memcpy(e->prefix, sqlite3_column_blob(q, 13), plen);
		e->prefix_len = plen;
#undef COL_TEXT
#undef COL_U64
	}
	sqlite3_finalize(q);
	if (r != SQLITE_DONE) {
		*err_r = db_error(st, "journal");
		state_intents_free(&in, n);
		return -1;
	}
	*in_r = in;
	*n_r = n;
	return 0;
}

void state_intents_free(struct state_intent **in, size_t n)
{
	for (size_t i = 0; *in != NULL && i < n; i++) {
		struct state_record *r = &(*in)[i].rec;
		free((char *)r->key.account);
		free((char *)r->key.folder);
		free((char *)r->key.uid);
		free((char *)r->target);
		free((char *)r->location);
	}
	free(*in);
	*in = NULL;
}

/* Prepares SQL into *stmt_r; 0, or -1 with *err_r. */
static int prep(struct state *st, const char *sql, sqlite3_stmt **stmt_r,
		char **err_r)
{
	if (sqlite3_prepare_v2(st->db, sql, -1, stmt_r, NULL) != SQLITE_OK) {
		*err_r = db_error(st, "prepare");
		return -1;
	}
	return 0;
}

/* Steps Q, a bound query: *found_r says whether it gave a row.  Finalizes
 * Q.  0, or -1 with *err_r (WHAT names the work). */
static int step_exists(struct state *st, sqlite3_stmt *q, const char *what,
		       bool *found_r, char **err_r)
{
	int r = sqlite3_step(q);

	*found_r = r == SQLITE_ROW;
	if (r != SQLITE_ROW && r != SQLITE_DONE)
		*err_r = db_error(st, what);
	sqlite3_finalize(q);
	return r == SQLITE_ROW || r == SQLITE_DONE ? 0 : -1;
}

int state_folder_get(struct state *st, const char *account, const char *folder,
		     struct state_folder *f_r, bool *found_r, char **err_r)
{
	sqlite3_stmt *q;

	if (prep(st,
		 "SELECT uidvalidity, uidnext, highest_uid, clean, next_due "
		 "FROM folders"
		 " WHERE account = ? AND folder = ?",
		 &q, err_r) < 0)
		return -1;
	sqlite3_bind_text(q, 1, account, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, folder, -1, SQLITE_STATIC);
	int r = sqlite3_step(q);
	*found_r = r == SQLITE_ROW;
	if (r == SQLITE_ROW) {
		f_r->uidvalidity = (uint64_t)sqlite3_column_int64(q, 0);
		f_r->uidnext = (uint64_t)sqlite3_column_int64(q, 1);
		f_r->highest_uid = (uint64_t)sqlite3_column_int64(q, 2);
		f_r->clean = sqlite3_column_int(q, 3) != 0;
		f_r->next_due = (time_t)sqlite3_column_int64(q, 4);
	} else if (r != SQLITE_DONE) {
		*err_r = db_error(st, "folder lookup");
	}
	sqlite3_finalize(q);
	return r == SQLITE_ROW || r == SQLITE_DONE ? 0 : -1;
}

int state_folder_put(struct state *st, const char *account, const char *folder,
		     const struct state_folder *f, char **err_r)
{
	sqlite3_stmt *q;

	if (prep(st,
		 "INSERT OR REPLACE INTO folders (account, folder, "
		 "uidvalidity, uidnext, highest_uid, clean, next_due) VALUES "
		 "(?,?,?,?,?,?,?)",
		 &q, err_r) < 0)
		return -1;
	sqlite3_bind_text(q, 1, account, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, folder, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 3, (sqlite3_int64)f->uidvalidity);
	sqlite3_bind_int64(q, 4, (sqlite3_int64)f->uidnext);
	sqlite3_bind_int64(q, 5, (sqlite3_int64)f->highest_uid);
	sqlite3_bind_int(q, 6, f->clean ? 1 : 0);
	sqlite3_bind_int64(q, 7, (sqlite3_int64)f->next_due);
	int r = sqlite3_step(q);
	if (r != SQLITE_DONE)
		*err_r = db_error(st, "folder record");
	sqlite3_finalize(q);
	return r == SQLITE_DONE ? 0 : -1;
}

int state_folder_has_other(struct state *st, const char *account,
			   const char *folder, uint64_t uidvalidity,
			   bool *found_r, char **err_r)
{
	sqlite3_stmt *q;

	if (prep(st,
		 "SELECT 1 FROM seen WHERE account = ? AND folder = ? AND "
		 "uidvalidity <> ? LIMIT 1",
		 &q, err_r) < 0)
		return -1;
	sqlite3_bind_text(q, 1, account, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, folder, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 3, (sqlite3_int64)uidvalidity);
	return step_exists(st, q, "folder lookup", found_r, err_r);
}

int state_find_by_content(struct state *st, const char *account,
			  const char *folder, uint64_t uidvalidity,
			  uint64_t archived_size, const char *hash,
			  bool (*taken)(void *ctx, const char *target,
					const char *location),
			  void *ctx, bool *found_r, char **target_r,
			  char **location_r, time_t *first_r, char **err_r)
{
	sqlite3_stmt *q;
	int r;

	if (prep(st,
		 "SELECT o.target, o.location, min(o.first_archived) FROM seen o"
		 " WHERE o.account = ?1 AND o.folder = ?2 AND o.hash = ?3"
		 " AND o.archived_size = ?4 AND o.uidvalidity <> ?5"
		 " AND NOT EXISTS (SELECT 1 FROM seen n WHERE"
		 " n.account = ?1 AND n.folder = ?2 AND n.hash = ?3"
		 " AND n.uidvalidity = ?5 AND n.target = o.target"
		 " AND n.location = o.location)"
		 " GROUP BY o.target, o.location ORDER BY o.location",
		 &q, err_r) < 0)
		return -1;
	sqlite3_bind_text(q, 1, account, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, folder, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 3, hash, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 4, (sqlite3_int64)archived_size);
	sqlite3_bind_int64(q, 5, (sqlite3_int64)uidvalidity);
	*found_r = false;
	while ((r = sqlite3_step(q)) == SQLITE_ROW) {
		const char *t = (const char *)sqlite3_column_text(q, 0);
		const char *l = (const char *)sqlite3_column_text(q, 1);
		if (taken != NULL && taken(ctx, t, l))
			continue;
		*found_r = true;
		*target_r = xstrdup(t);
		*location_r = xstrdup(l);
		*first_r = (time_t)sqlite3_column_int64(q, 2);
		break;
	}
	if (r != SQLITE_ROW && r != SQLITE_DONE)
		*err_r = db_error(st, "content lookup");
	sqlite3_finalize(q);
	return r == SQLITE_ROW || r == SQLITE_DONE ? 0 : -1;
}

int state_count(struct state *st, const char *account, uint64_t *n_r,
		char **err_r)
{
	sqlite3_stmt *s;
	if (sqlite3_prepare_v2(st->db,
			       "SELECT count(*) FROM seen WHERE account = ?",
			       -1, &s, NULL) != SQLITE_OK) {
		*err_r = db_error(st, "count");
		return -1;
	}
	sqlite3_bind_text(s, 1, account, -1, SQLITE_STATIC);
	int r = sqlite3_step(s);
	if (r == SQLITE_ROW)
		*n_r = (uint64_t)sqlite3_column_int64(s, 0);
	else
		*err_r = db_error(st, "count");
	sqlite3_finalize(s);
	return r == SQLITE_ROW ? 0 : -1;
}

int state_get(struct state *st, const struct state_key *key,
	      struct state_seen *seen_r, bool *found_r, char **err_r)
{
	sqlite3_stmt *q = st->get;

	sqlite3_reset(q);
	bind_key(q, key);
	int r = sqlite3_step(q);
	if (r != SQLITE_ROW && r != SQLITE_DONE) {
		*err_r = db_error(st, "lookup");
		sqlite3_reset(q);
		return -1;
	}
	*found_r = r == SQLITE_ROW;
	memset(seen_r, 0, sizeof(*seen_r));
	if (r == SQLITE_ROW) {
		seen_r->size = (uint64_t)sqlite3_column_int64(q, 0);
		seen_r->deleting = sqlite3_column_int(q, 1) != 0;
		snprintf(seen_r->origin, sizeof(seen_r->origin), "%s",
			 (const char *)sqlite3_column_text(q, 2));
		seen_r->archived_size = (uint64_t)sqlite3_column_int64(q, 3);
		snprintf(seen_r->hash, sizeof(seen_r->hash), "%s",
			 (const char *)sqlite3_column_text(q, 4));
		snprintf(seen_r->header_hash, sizeof(seen_r->header_hash),
			 "%s", (const char *)sqlite3_column_text(q, 5));
		seen_r->target = xstrdup((const char *)sqlite3_column_text(q, 6));
		seen_r->location =
		    xstrdup((const char *)sqlite3_column_text(q, 7));
		seen_r->first_archived = (time_t)sqlite3_column_int64(q, 8);
	}
	sqlite3_reset(q);
	return 0;
}

void state_seen_free(struct state_seen *seen)
{
	free(seen->target);
	free(seen->location);
	seen->target = NULL;
	seen->location = NULL;
}

int state_uid_other_size(struct state *st, const struct state_key *key,
			 bool *found_r, char **err_r)
{
	sqlite3_stmt *q;

	if (prep(st,
		 "SELECT 1 FROM seen WHERE account = ? AND folder = ? AND "
		 "uidvalidity = ? AND uid = ? AND size <> ?5 AND size <> 0 "
		 "LIMIT 1",
		 &q, err_r) < 0)
		return -1;
	bind_key(q, key);
	return step_exists(st, q, "lookup", found_r, err_r);
}

int state_set_location(struct state *st, const struct state_key *key,
		       const char *location, char **err_r)
{
	sqlite3_stmt *q;

	if (prep(st,
		 "UPDATE seen SET location = ?6 WHERE account = ?1 AND "
		 "folder = ?2 AND uidvalidity = ?3 AND uid = ?4 AND "
		 "size = ?5",
		 &q, err_r) < 0)
		return -1;
	bind_key(q, key);
	sqlite3_bind_text(q, 6, location, -1, SQLITE_STATIC);
	int r = sqlite3_step(q);
	if (r != SQLITE_DONE)
		*err_r = db_error(st, "record");
	sqlite3_finalize(q);
	return r == SQLITE_DONE ? 0 : -1;
}

int state_clock_get(struct state *st, const char *account, time_t *high_r,
		    char **err_r)
{
	sqlite3_stmt *q;

	if (prep(st, "SELECT high FROM clock WHERE account = ?", &q, err_r) <
	    0)
		return -1;
	sqlite3_bind_text(q, 1, account, -1, SQLITE_STATIC);
	int r = sqlite3_step(q);
	*high_r = r == SQLITE_ROW ? (time_t)sqlite3_column_int64(q, 0) : 0;
	if (r != SQLITE_ROW && r != SQLITE_DONE)
		*err_r = db_error(st, "clock");
	sqlite3_finalize(q);
	return r == SQLITE_ROW || r == SQLITE_DONE ? 0 : -1;
}

int state_clock_put(struct state *st, const char *account, time_t high,
		    char **err_r)
{
	sqlite3_stmt *q;

	if (prep(st,
		 "INSERT INTO clock (account, high) VALUES (?, ?) ON "
		 "CONFLICT (account) DO UPDATE SET high = MAX(high, "
		 "excluded.high)",
		 &q, err_r) < 0)
		return -1;
	sqlite3_bind_text(q, 1, account, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 2, (sqlite3_int64)high);
	state_lazy(st, true);
	int r = sqlite3_step(q);
	if (r != SQLITE_DONE)
		*err_r = db_error(st, "clock");
	sqlite3_finalize(q);
	state_lazy(st, false);
	return r == SQLITE_DONE ? 0 : -1;
}

int state_skipped_note(struct state *st, const struct state_key *key,
		       bool *first_r, char **err_r)
{
	sqlite3_stmt *q;

	if (prep(st,
		 "INSERT OR IGNORE INTO skipped (account, folder, "
		 "uidvalidity, uid, size) VALUES (?,?,?,?,?)",
		 &q, err_r) < 0)
		return -1;
	bind_key(q, key);
	int r = sqlite3_step(q);
	*first_r = r == SQLITE_DONE && sqlite3_changes(st->db) > 0;
	if (r != SQLITE_DONE)
		*err_r = db_error(st, "skipped");
	sqlite3_finalize(q);
	return r == SQLITE_DONE ? 0 : -1;
}

/* Inserts one imported record unless the message is known by any size. */
static int import_one(struct state *st, sqlite3_stmt *q, const char *origin,
		      const struct state_import_item *it, uint64_t *added)
{
	sqlite3_reset(q);
	sqlite3_bind_text(q, 1, it->key.account, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, it->key.folder, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 3, (sqlite3_int64)it->key.uidvalidity);
	sqlite3_bind_text(q, 4, it->key.uid, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 5, (sqlite3_int64)it->key.size);
	sqlite3_bind_int64(q, 6, (sqlite3_int64)it->first_archived);
	sqlite3_bind_text(q, 7, origin, -1, SQLITE_STATIC);
	if (step_done(q) < 0)
		return -1;
	*added += (uint64_t)sqlite3_changes(st->db);
	return 0;
}

int state_import_batch(struct state *st, const char *origin,
		       const struct state_import_item *items, size_t n,
		       uint64_t *added_r, char **err_r)
{
	sqlite3_stmt *q;
	uint64_t added = 0;

	if (prep(st,
		 "INSERT OR IGNORE INTO seen (account, folder, uidvalidity, "
		 "uid, size, archived_size, hash, header_hash, target, "
		 "location, first_archived, origin) SELECT ?1, ?2, ?3, ?4, ?5, "
		 "0, '', '', '', '', ?6, ?7 WHERE NOT EXISTS (SELECT 1 FROM "
		 "seen WHERE account = ?1 AND folder = ?2 AND uidvalidity = ?3 "
		 "AND uid = ?4)",
		 &q, err_r) < 0)
		return -1;
	if (exec(st, "BEGIN IMMEDIATE", err_r) < 0) {
		sqlite3_finalize(q);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		if (import_one(st, q, origin, &items[i], &added) < 0) {
			*err_r = db_error(st, "import");
			sqlite3_finalize(q);
			rollback(st);
			return -1;
		}
	}
	sqlite3_finalize(q);
	if (exec(st, "COMMIT", err_r) < 0)
		return -1;
	*added_r = added;
	return 0;
}

/* Runs SQL, whose ?1 is ACCOUNT and ?2 FOLDER (NULL binds NULL), to its
 * end; *changes_r (may be NULL) counts the rows it changed.  WHAT names
 * the work in an error.  0, or -1 with *err_r. */
static int run_account_sql(struct state *st, const char *sql,
			   const char *account, const char *folder,
			   const char *what, uint64_t *changes_r, char **err_r)
{
	sqlite3_stmt *q;

	if (prep(st, sql, &q, err_r) < 0)
		return -1;
	sqlite3_bind_text(q, 1, account, -1, SQLITE_STATIC);
	if (folder != NULL)
		sqlite3_bind_text(q, 2, folder, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(q, 2);
	int r = sqlite3_step(q);
	if (r != SQLITE_DONE)
		*err_r = db_error(st, what);
	else if (changes_r != NULL)
		*changes_r = (uint64_t)sqlite3_changes(st->db);
	sqlite3_finalize(q);
	return r == SQLITE_DONE ? 0 : -1;
}

/* Reads one count: SQL's ?1 is ACCOUNT, ?2 FOLDER (unbound, hence NULL,
 * when FOLDER is NULL). */
static int count_sql(struct state *st, const char *sql, const char *account,
		     const char *folder, uint64_t *n_r, char **err_r)
{
	sqlite3_stmt *q;

	if (prep(st, sql, &q, err_r) < 0)
		return -1;
	sqlite3_bind_text(q, 1, account, -1, SQLITE_STATIC);
	if (folder != NULL)
		sqlite3_bind_text(q, 2, folder, -1, SQLITE_STATIC);
	int r = sqlite3_step(q);
	if (r == SQLITE_ROW)
		*n_r = (uint64_t)sqlite3_column_int64(q, 0);
	else
		*err_r = db_error(st, "count");
	sqlite3_finalize(q);
	return r == SQLITE_ROW ? 0 : -1;
}

static int save_account_poll(struct state *st, const char *account,
			     const struct state_poll *p, char **err_r)
{
	sqlite3_stmt *q;

	if (prep(st,
		 "INSERT OR REPLACE INTO account_polls (account, finished, "
		 "result, error) VALUES (?,?,?,?)",
		 &q, err_r) < 0)
		return -1;
	sqlite3_bind_text(q, 1, account, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 2, (sqlite3_int64)p->finished);
	sqlite3_bind_text(q, 3, p->result, -1, SQLITE_STATIC);
	if (p->error != NULL)
		sqlite3_bind_text(q, 4, p->error, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(q, 4);
	int r = sqlite3_step(q);
	if (r != SQLITE_DONE)
		*err_r = db_error(st, "poll record");
	sqlite3_finalize(q);
	return r == SQLITE_DONE ? 0 : -1;
}

/* A folder whose size this poll did not learn (-1 here) keeps the size
 * the last poll stored; a new row stores -1: never listed. */
static int save_folder_poll(struct state *st, const char *account,
			    time_t finished, const struct state_folder_poll *f,
			    char **err_r)
{
	sqlite3_stmt *q;

	if (prep(st,
		 "INSERT INTO folder_polls (account, folder, display, "
		 "finished, server_msgs, server_bytes, next_due) VALUES "
		 "(?,?,?,?,?,?,?) ON CONFLICT (account, folder) DO UPDATE "
		 "SET display = excluded.display, finished = "
		 "excluded.finished, server_msgs = excluded.server_msgs, "
		 "server_bytes = CASE WHEN excluded.server_bytes < 0 THEN "
		 "folder_polls.server_bytes ELSE excluded.server_bytes END, "
		 "next_due = excluded.next_due",
		 &q, err_r) < 0)
		return -1;
	sqlite3_bind_text(q, 1, account, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, f->folder, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 3, f->display, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 4, (sqlite3_int64)finished);
	sqlite3_bind_int64(q, 5, (sqlite3_int64)f->server_msgs);
	sqlite3_bind_int64(q, 6, f->server_bytes == STATE_BYTES_UNKNOWN
				     ? -1
				     : (sqlite3_int64)f->server_bytes);
	sqlite3_bind_int64(q, 7, (sqlite3_int64)f->next_due);
	int r = sqlite3_step(q);
	if (r != SQLITE_DONE)
		*err_r = db_error(st, "folder poll record");
	sqlite3_finalize(q);
	return r == SQLITE_DONE ? 0 : -1;
}

int state_poll_save(struct state *st, const char *account,
		    const struct state_poll *p,
		    const struct state_folder_poll *f, size_t n, char **err_r)
{
	state_lazy(st, true);
	int r = exec(st, "BEGIN IMMEDIATE", err_r);
	if (r == 0) {
		r = save_account_poll(st, account, p, err_r);
		for (size_t i = 0; i < n && r == 0; i++)
			r = save_folder_poll(st, account, p->finished, &f[i],
					     err_r);
		if (r < 0)
			rollback(st);
		else
			r = exec(st, "COMMIT", err_r);
	}
	state_lazy(st, false);
	return r;
}

static int status_account(struct state *st, const char *account,
			  struct state_account_status *s, char **err_r)
{
	sqlite3_stmt *q;

	if (prep(st,
		 "SELECT finished, result, error FROM account_polls WHERE "
		 "account = ?",
		 &q, err_r) < 0)
		return -1;
	sqlite3_bind_text(q, 1, account, -1, SQLITE_STATIC);
	int r = sqlite3_step(q);
	if (r == SQLITE_ROW) {
		s->polled = true;
		s->finished = (time_t)sqlite3_column_int64(q, 0);
		s->result = xstrdup((const char *)sqlite3_column_text(q, 1));
		if (sqlite3_column_type(q, 2) != SQLITE_NULL)
			s->error =
			    xstrdup((const char *)sqlite3_column_text(q, 2));
	} else if (r != SQLITE_DONE) {
		*err_r = db_error(st, "poll lookup");
	}
	sqlite3_finalize(q);
	return r == SQLITE_ROW || r == SQLITE_DONE ? 0 : -1;
}

/* Every folder with records or a poll row; an archived copy counts once
 * however many records point to it. */
static const char status_folders_sql[] =
	"WITH names AS (SELECT folder FROM folder_polls WHERE account = ?1"
	" UNION SELECT folder FROM seen WHERE account = ?1),"
	" copies AS (SELECT folder, max(archived_size) AS size FROM seen"
	" WHERE account = ?1 AND origin = '' GROUP BY folder, target,"
	" location),"
	" arch AS (SELECT folder, count(*) AS n, sum(size) AS bytes FROM"
	" copies GROUP BY folder),"
	" imp AS (SELECT folder, count(*) AS n FROM seen WHERE account = ?1"
	" AND origin <> '' GROUP BY folder)"
	" SELECT names.folder, p.display, p.server_msgs, p.server_bytes,"
	" p.next_due, coalesce(arch.n, 0), coalesce(arch.bytes, 0),"
	" coalesce(imp.n, 0)"
	" FROM names LEFT JOIN folder_polls p ON p.account = ?1 AND"
	" p.folder = names.folder"
	" LEFT JOIN arch ON arch.folder = names.folder"
	" LEFT JOIN imp ON imp.folder = names.folder"
	" ORDER BY names.folder <> '', upper(names.folder) <> 'INBOX',"
	" names.folder";

static void status_folder_row(sqlite3_stmt *q, struct state_folder_status *f)
{
	memset(f, 0, sizeof(*f));
	f->folder = xstrdup((const char *)sqlite3_column_text(q, 0));
	f->polled = sqlite3_column_type(q, 1) != SQLITE_NULL;
	if (f->polled) {
		f->display = xstrdup((const char *)sqlite3_column_text(q, 1));
		f->server_msgs = (uint64_t)sqlite3_column_int64(q, 2);
		sqlite3_int64 b = sqlite3_column_int64(q, 3);
		f->server_bytes = b < 0 ? STATE_BYTES_UNKNOWN : (uint64_t)b;
		f->next_due = (time_t)sqlite3_column_int64(q, 4);
	}
	f->archived_msgs = (uint64_t)sqlite3_column_int64(q, 5);
	f->archived_bytes = (uint64_t)sqlite3_column_int64(q, 6);
	f->imported = (uint64_t)sqlite3_column_int64(q, 7);
}

int state_status(struct state *st, const char *account,
		 struct state_account_status *s_r, char **err_r)
{
	struct state_account_status s = {0};
	sqlite3_stmt *q;
	size_t cap = 0;
	int r;

	if (status_account(st, account, &s, err_r) < 0 ||
	    prep(st, status_folders_sql, &q, err_r) < 0) {
		state_status_free(&s);
		return -1;
	}
	sqlite3_bind_text(q, 1, account, -1, SQLITE_STATIC);
	while ((r = sqlite3_step(q)) == SQLITE_ROW) {
		if (s.n_folders == cap) {
			cap = cap ? 2 * cap : 4;
			s.folders = xrealloc(s.folders,
					     cap * sizeof(*s.folders));
		}
		status_folder_row(q, &s.folders[s.n_folders++]);
	}
	sqlite3_finalize(q);
	if (r != SQLITE_DONE) {
		*err_r = db_error(st, "status");
		state_status_free(&s);
		return -1;
	}
	*s_r = s;
	return 0;
}

void state_status_free(struct state_account_status *s)
{
	for (size_t i = 0; i < s->n_folders; i++) {
		free(s->folders[i].folder);
		free(s->folders[i].display);
	}
	free(s->folders);
	free(s->result);
	free(s->error);
	memset(s, 0, sizeof(*s));
}

int state_forget(struct state *st, const char *account, const char *folder,
		 uint64_t *n_r, char **err_r)
{
	static const char *const tables[] = {"folders", "skipped",
					     "folder_polls"};
	uint64_t n = 0;

	if (exec(st, "BEGIN IMMEDIATE", err_r) < 0)
		return -1;
	int r = run_account_sql(st,
				"DELETE FROM seen WHERE account = ?1 AND "
				"(?2 IS NULL OR folder = ?2)",
				account, folder, "forget", &n, err_r);
	for (size_t i = 0; i < sizeof(tables) / sizeof(*tables) && r == 0;
	     i++) {
		char *sql = xasprintf("DELETE FROM %s WHERE account = ?1 AND "
				      "(?2 IS NULL OR folder = ?2)",
				      tables[i]);
		r = run_account_sql(st, sql, account, folder, "forget", NULL,
				    err_r);
		free(sql);
	}
	if (r < 0) {
		rollback(st);
		return -1;
	}
	if (exec(st, "COMMIT", err_r) < 0)
		return -1;
	*n_r = n;
	return 0;
}

int state_count_folder(struct state *st, const char *account,
		       const char *folder, uint64_t *n_r, char **err_r)
{
	return count_sql(st,
			 "SELECT count(*) FROM seen WHERE account = ?1 AND "
			 "(?2 IS NULL OR folder = ?2)",
			 account, folder, n_r, err_r);
}

int state_journal_count(struct state *st, const char *account, uint64_t *n_r,
			char **err_r)
{
	return count_sql(st, "SELECT count(*) FROM journal WHERE account = ?1",
			 account, NULL, n_r, err_r);
}

/* --- reindex --- */

int state_reindex_records(struct state *st, const char *account,
			  const char *folder, uint64_t uidvalidity,
			  void (*cb)(void *ctx, const char *uid, uint64_t size,
				     bool imported),
			  void *ctx, char **err_r)
{
	sqlite3_stmt *q;
	int r;

	if (prep(st,
		 "SELECT uid, size, origin <> '' FROM seen WHERE account = ? "
		 "AND folder = ? AND uidvalidity = ?",
		 &q, err_r) < 0)
		return -1;
	sqlite3_bind_text(q, 1, account, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, folder, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 3, (sqlite3_int64)uidvalidity);
	while ((r = sqlite3_step(q)) == SQLITE_ROW) {
		const char *uid = (const char *)sqlite3_column_text(q, 0);
		cb(ctx, uid != NULL ? uid : "",
		   (uint64_t)sqlite3_column_int64(q, 1),
		   sqlite3_column_int(q, 2) != 0);
	}
	if (r != SQLITE_DONE)
		*err_r = db_error(st, "records");
	sqlite3_finalize(q);
	return r == SQLITE_DONE ? 0 : -1;
}

int state_reindex_taken(struct state *st, const char *target,
			void (*cb)(void *ctx, const char *location),
			void *ctx, char **err_r)
{
	sqlite3_stmt *q;
	int r;

	if (prep(st, "SELECT location FROM seen WHERE target = ?", &q,
		 err_r) < 0)
		return -1;
	sqlite3_bind_text(q, 1, target, -1, SQLITE_STATIC);
	while ((r = sqlite3_step(q)) == SQLITE_ROW) {
		const char *loc = (const char *)sqlite3_column_text(q, 0);
		if (loc != NULL)
			cb(ctx, loc);
	}
	if (r != SQLITE_DONE)
		*err_r = db_error(st, "archived copies");
	sqlite3_finalize(q);
	return r == SQLITE_DONE ? 0 : -1;
}

/* Runs SQL on the imported records of R's uid: ?1..?4 are its account,
 * folder, UIDVALIDITY and uid.  *first_r (may be NULL) gets the first
 * column of the first row, if any.  0, or -1. */
static int imported_sql(struct state *st, const char *sql,
			const struct state_record *r, time_t *first_r)
{
	sqlite3_stmt *q;
	char *err = NULL;

	if (prep(st, sql, &q, &err) < 0) {
		free(err);
		return -1;
	}
	sqlite3_bind_text(q, 1, r->key.account, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, r->key.folder, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q, 3, (sqlite3_int64)r->key.uidvalidity);
	sqlite3_bind_text(q, 4, r->key.uid, -1, SQLITE_STATIC);
	int rc = sqlite3_step(q);
	if (rc == SQLITE_ROW && first_r != NULL &&
	    sqlite3_column_type(q, 0) != SQLITE_NULL)
		*first_r = (time_t)sqlite3_column_int64(q, 0);
	sqlite3_finalize(q);
	return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : -1;
}

/* One found message: its imported record goes, its own record comes,
 * keeping the imported time (delete_after counts from it). */
static int reindex_one(struct state *st, const void *recs, size_t i)
{
	struct state_record r = ((const struct state_record *)recs)[i];

	if (imported_sql(st,
			 "SELECT MIN(first_archived) FROM seen WHERE "
			 "account = ? AND folder = ? AND uidvalidity = ? AND "
			 "uid = ? AND origin <> ''",
			 &r, &r.first_archived) < 0 ||
	    imported_sql(st,
			 "DELETE FROM seen WHERE account = ? AND folder = ? "
			 "AND uidvalidity = ? AND uid = ? AND origin <> ''",
			 &r, NULL) < 0)
		return -1;
	return insert_one(st, &r, 0);
}

int state_reindex_record(struct state *st, const struct state_record *recs,
			 size_t n, char **err_r)
{
	return batch(st, reindex_one, recs, n, "record", err_r);
}

int state_target_known(struct state *st, const char *target, bool *found_r,
		       char **err_r)
{
	sqlite3_stmt *q;

	if (prep(st, "SELECT 1 FROM seen WHERE target = ? LIMIT 1", &q,
		 err_r) < 0)
		return -1;
	sqlite3_bind_text(q, 1, target, -1, SQLITE_STATIC);
	return step_exists(st, q, "lookup", found_r, err_r);
}
