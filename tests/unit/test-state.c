/* SPDX-License-Identifier: ISC */
/* The state database: seen records, IMAP folder rows, the content lookup
 * that re-keys messages after a UIDVALIDITY change, the deleting mark,
 * the delivery journal, and the upgrade of an older database. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "state.h"
#include "tap.h"
#include "util.h"

static char dir[] = "/tmp/mailhaul-test-state.XXXXXX";
static char path[64];

static struct state_record rec(const char *folder, uint64_t uidvalidity,
			       const char *uid, const char *hash,
			       const char *location)
{
	struct state_record r = {
	    .key = {.account = "a",
		    .folder = folder,
		    .uidvalidity = uidvalidity,
		    .uid = uid,
		    .size = 100},
	    .archived_size = 98,
	    .target = "maildir:/m",
	    .location = location,
	    .first_archived = 1000,
	};
	snprintf(r.hash, sizeof(r.hash), "%s", hash);
	snprintf(r.header_hash, sizeof(r.header_hash), "h");
	return r;
}

static void test_seen(struct state *st)
{
	struct state_record r[2] = {rec("INBOX", 7, "1", "aa", "new/1"),
				    rec("INBOX", 7, "2", "bb", "new/2")};
	char *err = NULL;
	bool seen = false;
	uint64_t n = 0;

	tap_ok(state_record_batch(st, r, 2, &err) == 0, "record a batch");
	tap_ok(state_is_seen(st, &r[0].key, &seen, &err) == 0 && seen,
	       "a recorded message is seen");
	struct state_key k = r[0].key;
	k.uidvalidity = 8;
	tap_ok(state_is_seen(st, &k, &seen, &err) == 0 && !seen,
	       "the same UID under another UIDVALIDITY is not");
	k = r[0].key;
	k.folder = "Lists/dev";
	tap_ok(state_is_seen(st, &k, &seen, &err) == 0 && !seen,
	       "the same UID in another folder is not");
	tap_ok(state_count(st, "a", &n, &err) == 0 && n == 2, "count");
	free(err);
}

static void test_folders(struct state *st)
{
	struct state_folder f = {.uidvalidity = 7, .uidnext = 3,
				 .highest_uid = 2, .clean = true};
	struct state_folder got = {0};
	char *err = NULL;
	bool found = true;

	tap_ok(state_folder_get(st, "a", "INBOX", &got, &found, &err) == 0 &&
		   !found,
	       "no folder row at first");
	tap_ok(state_folder_put(st, "a", "INBOX", &f, &err) == 0,
	       "write a folder row");
	tap_ok(state_folder_get(st, "a", "INBOX", &got, &found, &err) == 0 &&
		   found && got.uidvalidity == 7 && got.uidnext == 3 &&
		   got.highest_uid == 2 && got.clean,
	       "read it back");
	f.clean = false;
	f.uidnext = 9;
	tap_ok(state_folder_put(st, "a", "INBOX", &f, &err) == 0 &&
		   state_folder_get(st, "a", "INBOX", &got, &found, &err) ==
			   0 &&
		   got.uidnext == 9 && !got.clean,
	       "a second write replaces the row");
	tap_ok(state_folder_get(st, "b", "INBOX", &got, &found, &err) == 0 &&
		   !found,
	       "rows are per account");
	tap_ok(state_folder_has_other(st, "a", "INBOX", 7, &found, &err) ==
			   0 &&
		   !found,
	       "no records under another UIDVALIDITY");
	tap_ok(state_folder_has_other(st, "a", "INBOX", 8, &found, &err) ==
			   0 &&
		   found,
	       "records under UIDVALIDITY 7 are 'other' for 8");
	free(err);
}

static bool taken_new1(void *ctx, const char *target, const char *location)
{
	(void)ctx;
	return strcmp(target, "maildir:/m") == 0 &&
	       strcmp(location, "new/dup1") == 0;
}

static void test_rekey(struct state *st)
{
	struct state_record dup[2] = {rec("INBOX", 7, "5", "dd", "new/dup1"),
				      rec("INBOX", 7, "6", "dd", "new/dup2")};
	char *err = NULL, *t = NULL, *l = NULL;
	bool found = false;
	time_t first = 0;

	state_record_batch(st, dup, 2, &err);
	tap_ok(state_find_by_content(st, "a", "INBOX", 8, 98, "aa", NULL, NULL,
				     &found, &t, &l, &first, &err) == 0 &&
		   found && strcmp(t, "maildir:/m") == 0 &&
		   strcmp(l, "new/1") == 0 && first == 1000,
	       "content lookup finds the old record");
	free(t);
	free(l);
	t = l = NULL;
	tap_ok(state_find_by_content(st, "a", "INBOX", 8, 97, "aa", NULL, NULL,
				     &found, &t, &l, &first, &err) == 0 &&
		   !found,
	       "a different size does not match");
	tap_ok(state_find_by_content(st, "a", "Lists", 8, 98, "aa", NULL, NULL,
				     &found, &t, &l, &first, &err) == 0 &&
		   !found,
	       "another folder does not match");
	tap_ok(state_find_by_content(st, "a", "INBOX", 7, 98, "aa", NULL, NULL,
				     &found, &t, &l, &first, &err) == 0 &&
		   !found,
	       "the current UIDVALIDITY's own records do not match");
	/* Re-key the first copy under 8: the next lookup must give the
	 * other copy, then none. */
	struct state_record rk = rec("INBOX", 8, "1", "dd", "new/dup1");
	state_record_batch(st, &rk, 1, &err);
	tap_ok(state_find_by_content(st, "a", "INBOX", 8, 98, "dd", NULL, NULL,
				     &found, &t, &l, &first, &err) == 0 &&
		   found && strcmp(l, "new/dup2") == 0,
	       "an archived copy already re-keyed is not matched again");
	free(t);
	free(l);
	t = l = NULL;
	rk = rec("INBOX", 8, "2", "dd", "new/dup2");
	state_record_batch(st, &rk, 1, &err);
	tap_ok(state_find_by_content(st, "a", "INBOX", 8, 98, "dd", NULL, NULL,
				     &found, &t, &l, &first, &err) == 0 &&
		   !found,
	       "two identical messages match two copies, a third none");
	tap_ok(state_find_by_content(st, "a", "INBOX", 9, 98, "dd", taken_new1,
				     NULL, &found, &t, &l, &first, &err) ==
			   0 &&
		   found && strcmp(l, "new/dup2") == 0,
	       "a copy the caller has taken is skipped");
	free(t);
	free(l);
	free(err);
}

/* Sets *deleting_r to what state_lookup says about KEY; returns whether
 * it is seen, false on error too. */
static bool lookup(struct state *st, const struct state_key *key,
		   bool *deleting_r)
{
	char *err = NULL;
	bool seen = false;

	*deleting_r = true; /* must be cleared when not deleting */
	if (state_lookup(st, key, &seen, deleting_r, &err) < 0) {
		printf("# %s\n", err);
		free(err);
		return false;
	}
	return seen;
}

static void test_deleting(struct state *st)
{
	struct state_record r[2] = {rec("Del", 7, "1", "d1", "new/d1"),
				    rec("Del", 7, "2", "d2", "new/d2")};
	struct state_key unknown = r[0].key;
	char *err = NULL;
	bool deleting, seen = false;

	unknown.uid = "3";
	state_record_batch(st, r, 2, &err);
	tap_ok(lookup(st, &r[0].key, &deleting) && !deleting,
	       "lookup: a recorded message is not being deleted");
	tap_ok(!lookup(st, &unknown, &deleting) && !deleting,
	       "lookup: an unknown message is neither seen nor deleting");
	tap_ok(state_mark_deleting(st, &r[0].key, 1, &err) == 0,
	       "mark one message deleting");
	tap_ok(lookup(st, &r[0].key, &deleting) && deleting,
	       "lookup: now it is being deleted");
	tap_ok(lookup(st, &r[1].key, &deleting) && !deleting,
	       "lookup: the other one is not");
	tap_ok(state_mark_deleting(st, &unknown, 1, &err) == 0 &&
		   !lookup(st, &unknown, &deleting) && !deleting,
	       "marking an unknown message records nothing");
	tap_ok(state_lookup(st, &r[0].key, &seen, NULL, &err) == 0 && seen,
	       "lookup: deleting_r may be NULL");
	free(err);
}

/* A journal entry for account "j": target, location, start. */
static struct state_intent intent(const char *uid, const char *target,
				  const char *location, uint64_t start)
{
	struct state_intent in = {
	    .rec = rec("INBOX", 42, uid, "", location),
	    .start = start,
	    .disk_size = 1000 + start,
	};
	in.rec.key.account = "j";
	in.rec.key.size = 300 + start;
	in.rec.archived_size = 200 + start;
	in.rec.target = target;
	in.rec.first_archived = 1700000000 + (time_t)start;
	snprintf(in.rec.hash, sizeof(in.rec.hash), "hash-%s", uid);
	snprintf(in.rec.header_hash, sizeof(in.rec.header_hash), "hdr-%s", uid);
	snprintf(in.disk_hash, sizeof(in.disk_hash), "disk-%s", uid);
	return in;
}

static bool same_intent(const struct state_intent *a,
			const struct state_intent *b)
{
	const struct state_record *x = &a->rec, *y = &b->rec;

	return strcmp(x->key.account, y->key.account) == 0 &&
	       strcmp(x->key.folder, y->key.folder) == 0 &&
	       x->key.uidvalidity == y->key.uidvalidity &&
	       strcmp(x->key.uid, y->key.uid) == 0 &&
	       x->key.size == y->key.size &&
	       x->archived_size == y->archived_size &&
	       strcmp(x->hash, y->hash) == 0 &&
	       strcmp(x->header_hash, y->header_hash) == 0 &&
	       strcmp(x->target, y->target) == 0 &&
	       strcmp(x->location, y->location) == 0 &&
	       x->first_archived == y->first_archived && a->start == b->start &&
	       a->disk_size == b->disk_size &&
	       strcmp(a->disk_hash, b->disk_hash) == 0;
}

/* Do the journal entries of account "j" equal WANT[IDX[0..N-1]]? */
static bool journal_is(struct state *st, const struct state_intent *want,
		       const size_t *idx, size_t n)
{
	struct state_intent *got = NULL;
	size_t n_got = 0;
	char *err = NULL;
	bool ok;

	if (state_intents(st, "j", &got, &n_got, &err) < 0) {
		printf("# %s\n", err);
		free(err);
		return false;
	}
	ok = n_got == n;
	for (size_t i = 0; ok && i < n; i++)
		ok = same_intent(&got[i], &want[idx[i]]);
	if (!ok)
		printf("# %zu journal entries, %zu expected\n", n_got, n);
	state_intents_free(&got, n_got);
	return ok;
}

static void test_journal(struct state **st)
{
	/* Written out of order: read back by target, then start. */
	const struct state_intent in[3] = {
	    intent("11", "mbox:/var/mail/j", "mbox:5000", 4998),
	    intent("12", "maildir:/m", "new/x,S=3", 0),
	    intent("13", "mbox:/var/mail/j", "mbox:100", 100),
	};
	static const size_t all[] = {1, 2, 0}, two[] = {2, 0}, one[] = {2};
	struct state_intent *got = NULL;
	size_t n = 9;
	char *err = NULL;
	bool seen = false;

	tap_ok(state_intents(*st, "j", &got, &n, &err) == 0 && n == 0,
	       "journal: empty at first");
	state_intents_free(&got, n);
	tap_ok(state_intend_batch(*st, in, 3, &err) == 0,
	       "journal: three entries written");
	tap_ok(journal_is(*st, in, all, 3),
	       "journal: read back by target then start, every field intact");
	tap_ok(state_intents(*st, "a", &got, &n, &err) == 0 && n == 0,
	       "journal: entries are per account");
	state_intents_free(&got, n);
	tap_ok(state_is_seen(*st, &in[0].rec.key, &seen, &err) == 0 && !seen,
	       "journal: an entry is not a seen record");
	tap_ok(state_record_batch(*st, &in[1].rec, 1, &err) == 0 &&
		   state_is_seen(*st, &in[1].rec.key, &seen, &err) == 0 && seen,
	       "journal: recording a message");
	tap_ok(journal_is(*st, in, two, 2), "journal: closes its entry");
	tap_ok(state_unintend_batch(*st, &in[0].rec.key, 1, &err) == 0 &&
		   journal_is(*st, in, one, 1),
	       "journal: unintend drops an entry");
	tap_ok(state_is_seen(*st, &in[0].rec.key, &seen, &err) == 0 && !seen,
	       "journal: and records nothing");
	state_close(st);
	tap_ok(state_open(path, st, &err) == 0 && journal_is(*st, in, one, 1),
	       "journal: the rest is there after reopening");
	tap_ok(state_unintend_batch(*st, &in[2].rec.key, 1, &err) == 0 &&
		   journal_is(*st, in, NULL, 0),
	       "journal: empty again");
	free(err);
}

/* A database of mailhaul 0.x (user_version 2, no seen.deleting) is
 * upgraded when opened. */
static void test_upgrade(void)
{
	static const char v2[] =
	    "CREATE TABLE seen (account TEXT NOT NULL, folder TEXT NOT NULL,"
	    " uidvalidity INTEGER NOT NULL, uid TEXT NOT NULL,"
	    " size INTEGER NOT NULL, archived_size INTEGER NOT NULL,"
	    " hash TEXT NOT NULL, header_hash TEXT NOT NULL,"
	    " target TEXT NOT NULL, location TEXT NOT NULL,"
	    " first_archived INTEGER NOT NULL,"
	    " PRIMARY KEY (account, folder, uidvalidity, uid, size))"
	    " WITHOUT ROWID;"
	    "CREATE INDEX seen_content ON seen (account, folder, hash);"
	    "CREATE TABLE folders (account TEXT NOT NULL,"
	    " folder TEXT NOT NULL, uidvalidity INTEGER NOT NULL,"
	    " uidnext INTEGER NOT NULL, highest_uid INTEGER NOT NULL,"
	    " clean INTEGER NOT NULL, PRIMARY KEY (account, folder))"
	    " WITHOUT ROWID;"
	    "INSERT INTO seen VALUES ('old', 'INBOX', 5, '9', 100, 98, 'oh',"
	    " 'hh', 'maildir:/m', 'new/old', 1000);"
	    "PRAGMA user_version = 2;";
	char *old = xasprintf("%s/v2.db", dir);
	struct state_key key = {.account = "old",
				.folder = "INBOX",
				.uidvalidity = 5,
				.uid = "9",
				.size = 100};
	struct state_key other = key;
	struct state *st = NULL;
	sqlite3 *db = NULL;
	char *err = NULL;
	bool deleting;
	uint64_t n = 0;

	other.uid = "10";
	if (sqlite3_open(old, &db) != SQLITE_OK ||
	    sqlite3_exec(db, v2, NULL, NULL, NULL) != SQLITE_OK) {
		printf("# %s: %s\n", old, sqlite3_errmsg(db));
		exit(99);
	}
	sqlite3_close(db);
	tap_ok(state_open(old, &st, &err) == 0,
	       "upgrade: a version 2 database opens");
	if (st == NULL) {
		printf("# %s\n", err);
		free(err);
		free(old);
		return;
	}
	tap_ok(lookup(st, &key, &deleting) && !deleting,
	       "upgrade: its record is seen, not deleting");
	tap_ok(!lookup(st, &other, &deleting), "upgrade: nothing else is seen");
	tap_ok(state_mark_deleting(st, &key, 1, &err) == 0 &&
		   lookup(st, &key, &deleting) && deleting,
	       "upgrade: the deleting mark works");
	struct state_intent in = intent("20", "maildir:/m", "new/y", 0);
	tap_ok(state_intend_batch(st, &in, 1, &err) == 0 &&
		   journal_is(st, &in, (const size_t[]){0}, 1),
	       "upgrade: the journal works");
	tap_ok(state_count(st, "old", &n, &err) == 0 && n == 1,
	       "upgrade: the old record is kept");
	state_close(&st);
	sqlite3_stmt *q = NULL;
	int version = -1;
	if (sqlite3_open(old, &db) == SQLITE_OK &&
	    sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &q, NULL) ==
		SQLITE_OK &&
	    sqlite3_step(q) == SQLITE_ROW)
		version = sqlite3_column_int(q, 0);
	sqlite3_finalize(q);
	sqlite3_close(db);
	tap_ok(version == 4, "upgrade: the database says version 4");
	free(err);
	free(old);
}

/* Inserts a record imported from another tool, as `mailhaul import`
 * does, through a connection of its own. */
static int insert_imported(const char *account, const char *folder,
			   const char *uid)
{
	sqlite3 *db = NULL;
	char *sql = sqlite3_mprintf(
	    "INSERT INTO seen (account, folder, uidvalidity, uid, size, "
	    "archived_size, hash, header_hash, target, location, "
	    "first_archived, origin) VALUES (%Q, %Q, 0, %Q, 0, 0, '', '', "
	    "'', '', 5, 'fetchmail')",
	    account, folder, uid);
	int r = sqlite3_open(path, &db) == SQLITE_OK &&
			sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK
		    ? 0
		    : -1;
	sqlite3_free(sql);
	sqlite3_close(db);
	return r;
}

static struct state_record prec(const char *folder, uint64_t uidvalidity,
				const char *uid, const char *location,
				uint64_t archived_size)
{
	struct state_record r = rec(folder, uidvalidity, uid, "cc", location);
	r.key.account = "p";
	r.archived_size = archived_size;
	return r;
}

static const struct state_folder_status *
find_status(const struct state_account_status *s, const char *folder)
{
	for (size_t i = 0; i < s->n_folders; i++)
		if (strcmp(s->folders[i].folder, folder) == 0)
			return &s->folders[i];
	return NULL;
}

/* What status reads: records (a copy re-keyed after a UIDVALIDITY change
 * counted once, imported ones apart) and the poll rows. */
static void test_status_read(struct state *st)
{
	struct state_record r[4] = {
	    prec("INBOX", 7, "1", "new/1", 100),
	    prec("INBOX", 7, "2", "new/2", 50),
	    prec("INBOX", 9, "5", "new/1", 100), /* re-keyed new/1 */
	    prec("&AMQ-rger", 3, "1", "new/3", 7),
	};
	struct state_account_status s;
	const struct state_folder_status *f;
	char *err = NULL;

	tap_ok(state_status(st, "p", &s, &err) == 0 && !s.polled &&
		   s.n_folders == 0 && s.result == NULL,
	       "status: an account without records or polls: never polled");
	state_status_free(&s);
	tap_ok(state_record_batch(st, r, 4, &err) == 0 &&
		   insert_imported("p", "INBOX", "u1") == 0 &&
		   insert_imported("p", "INBOX", "u2") == 0 &&
		   insert_imported("p", "Old", "u3") == 0,
	       "status: records and imported records written");
	if (!tap_ok(state_status(st, "p", &s, &err) == 0 && !s.polled &&
			s.n_folders == 3,
		    "status: three folders known from records")) {
		printf("# %s\n", err != NULL ? err : "");
		return;
	}
	tap_str(s.folders[0].folder, "INBOX", "status: INBOX first");
	f = find_status(&s, "INBOX");
	tap_ok(f != NULL && f->archived_msgs == 2 && f->archived_bytes == 150 &&
		   f->imported == 2 && !f->polled && f->display == NULL,
	       "status: a re-keyed copy counts once; imported apart");
	f = find_status(&s, "&AMQ-rger");
	tap_ok(f != NULL && f->archived_msgs == 1 && f->archived_bytes == 7 &&
		   f->imported == 0,
	       "status: a second folder");
	f = find_status(&s, "Old");
	tap_ok(f != NULL && f->archived_msgs == 0 && f->imported == 1,
	       "status: a folder with imported records only");
	state_status_free(&s);
	free(err);
}

static void test_poll_save(struct state *st)
{
	struct state_poll p = {.finished = 2000, .result = "ok"};
	struct state_folder_poll fp[2] = {
	    {.folder = "INBOX", .display = "INBOX", .server_msgs = 4,
	     .server_bytes = 400, .next_due = 0},
	    {.folder = "&AMQ-rger", .display = "\xc3\x84rger",
	     .server_msgs = 1, .server_bytes = STATE_BYTES_UNKNOWN,
	     .next_due = 5000},
	};
	struct state_account_status s;
	const struct state_folder_status *f;
	char *err = NULL;

	tap_ok(state_poll_save(st, "p", &p, fp, 2, &err) == 0,
	       "poll save: account and two folders");
	tap_ok(state_status(st, "p", &s, &err) == 0 && s.polled &&
		   s.finished == 2000 && strcmp(s.result, "ok") == 0 &&
		   s.error == NULL,
	       "poll save: the account row reads back");
	f = find_status(&s, "INBOX");
	tap_ok(f != NULL && f->polled && f->server_msgs == 4 &&
		   f->server_bytes == 400 && f->next_due == 0 &&
		   strcmp(f->display, "INBOX") == 0,
	       "poll save: a folder row reads back");
	f = find_status(&s, "&AMQ-rger");
	tap_ok(f != NULL && f->polled && f->server_msgs == 1 &&
		   f->server_bytes == STATE_BYTES_UNKNOWN &&
		   f->next_due == 5000 &&
		   strcmp(f->display, "\xc3\x84rger") == 0,
	       "poll save: bytes never listed stay unknown");
	state_status_free(&s);

	/* A failed poll; then one that did not list INBOX's sizes. */
	p = (struct state_poll){.finished = 3000, .result = "login refused",
				.error = "login failed: no"};
	fp[0].server_msgs = 3;
	fp[0].server_bytes = STATE_BYTES_UNKNOWN;
	fp[1].server_bytes = 70;
	tap_ok(state_poll_save(st, "p", &p, NULL, 0, &err) == 0 &&
		   state_status(st, "p", &s, &err) == 0 &&
		   s.finished == 3000 &&
		   strcmp(s.result, "login refused") == 0 &&
		   s.error != NULL &&
		   strcmp(s.error, "login failed: no") == 0 &&
		   (f = find_status(&s, "INBOX")) != NULL &&
		   f->server_msgs == 4,
	       "poll save: a failed poll updates the account row only");
	state_status_free(&s);
	p = (struct state_poll){.finished = 4000, .result = "ok"};
	tap_ok(state_poll_save(st, "p", &p, fp, 2, &err) == 0 &&
		   state_status(st, "p", &s, &err) == 0 && s.error == NULL &&
		   (f = find_status(&s, "INBOX")) != NULL &&
		   f->server_msgs == 3 && f->server_bytes == 400,
	       "poll save: unknown bytes keep the last poll's");
	f = find_status(&s, "&AMQ-rger");
	tap_ok(f != NULL && f->server_bytes == 70, "poll save: bytes learnt");
	state_status_free(&s);
	free(err);
}

static void test_forget(struct state *st)
{
	struct state_folder f = {.uidvalidity = 7, .uidnext = 3};
	struct state_account_status s;
	struct state_intent in = {.rec = prec("INBOX", 7, "9", "new/9", 1)};
	uint64_t n = 99, others = 0;
	char *err = NULL;

	tap_ok(state_count_folder(st, "a", NULL, &others, &err) == 0 &&
		   others > 0,
	       "forget: account a has records");
	tap_ok(state_count_folder(st, "p", NULL, &n, &err) == 0 && n == 7,
	       "forget: seven records of account p");
	tap_ok(state_count_folder(st, "p", "INBOX", &n, &err) == 0 && n == 5,
	       "forget: five of them in INBOX");
	tap_ok(state_journal_count(st, "p", &n, &err) == 0 && n == 0,
	       "forget: no journal entry");
	tap_ok(state_intend_batch(st, &in, 1, &err) == 0 &&
		   state_journal_count(st, "p", &n, &err) == 0 && n == 1,
	       "forget: one journal entry counted");
	tap_ok(state_unintend_batch(st, &in.rec.key, 1, &err) == 0,
	       "forget: journal entry dropped");
	tap_ok(state_folder_put(st, "p", "INBOX", &f, &err) == 0 &&
		   state_folder_put(st, "p", "&AMQ-rger", &f, &err) == 0,
	       "forget: folder rows written");
	tap_ok(state_forget(st, "p", "INBOX", &n, &err) == 0 && n == 5,
	       "forget: one folder's five records");
	bool found = true;
	tap_ok(state_status(st, "p", &s, &err) == 0 && s.polled &&
		   s.n_folders == 2 && find_status(&s, "INBOX") == NULL &&
		   find_status(&s, "&AMQ-rger")->archived_msgs == 1 &&
		   state_folder_get(st, "p", "INBOX", &f, &found, &err) == 0 &&
		   !found &&
		   state_folder_get(st, "p", "&AMQ-rger", &f, &found, &err) ==
		       0 &&
		   found,
	       "forget: the folder's records, poll and folder rows went, "
	       "the others stay");
	state_status_free(&s);
	tap_ok(state_count_folder(st, "a", NULL, &n, &err) == 0 && n == others,
	       "forget: other accounts keep their records");
	tap_ok(state_forget(st, "p", NULL, &n, &err) == 0 && n == 2 &&
		   state_count_folder(st, "p", NULL, &n, &err) == 0 && n == 0,
	       "forget: the whole account");
	tap_ok(state_status(st, "p", &s, &err) == 0 && s.polled &&
		   s.n_folders == 0 && s.finished == 4000,
	       "forget: the account's last poll stays, its folders go");
	state_status_free(&s);
	tap_ok(state_forget(st, "p", "Nope", &n, &err) == 0 && n == 0,
	       "forget: an unknown folder deletes nothing");
	free(err);
}

int main(void)
{
	struct state *st = NULL;
	char *err = NULL;

	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(path, sizeof(path), "%s/state.db", dir);
	if (!tap_ok(state_open(path, &st, &err) == 0, "open a new database")) {
		printf("# %s\n", err);
		return tap_done();
	}
	test_seen(st);
	test_folders(st);
	test_rekey(st);
	test_deleting(st);
	test_journal(&st);
	test_status_read(st);
	test_poll_save(st);
	test_forget(st);
	state_close(&st);
	tap_ok(state_open(path, &st, &err) == 0, "open it again");
	state_close(&st);
	test_upgrade();
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		return 1;
	return tap_done();
}
