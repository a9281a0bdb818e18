/* SPDX-License-Identifier: ISC */
/* The state database: seen records, IMAP folder rows, and the content
 * lookup that re-keys messages after a UIDVALIDITY change. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
	state_close(&st);
	tap_ok(state_open(path, &st, &err) == 0, "open it again");
	state_close(&st);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		return 1;
	return tap_done();
}
